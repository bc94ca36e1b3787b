import {SnapdeckError} from './errors.js';

/**
 * A guest's file names are bytes, not text: Linux allows any byte but `/` and NUL, so a name may
 * be latin1 (0xE9), hold a line break, or hide an escape sequence. Shown and typed, a name is its
 * escaped form, one printable line that gives the bytes back exactly: valid UTF-8 as itself;
 * a backslash as `\\`; a line break, carriage return and tab as `\n`, `\r`, `\t`; every other
 * control character (and the Unicode ones that reorder or hide text) as `\xHH` below 0x80,
 * `\uHHHH` above; and a byte that is not part of valid UTF-8 as `\xHH` (so `\xHH` is always one
 * byte, and `\u0085` the character U+0085, two bytes in UTF-8).
 */

/** Characters never shown as themselves (the set terminal-text.ts makes visible), and the backslash. */
const ESCAPED = /[\u0000-\u001f\u007f-\u009f\u061c\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff\\]/;
const NAMED: Readonly<Record<string, string>> = {'\n': '\\n', '\r': '\\r', '\t': '\\t', '\\': '\\\\'};

const strict = new TextDecoder('utf-8', {fatal: true});

/** How many bytes the UTF-8 sequence a lead byte starts takes (0: it starts none). */
const sequenceLength = (lead: number) =>
	lead < 0x80
		? 1
		: lead >= 0xc2 && lead <= 0xdf
			? 2
			: lead >= 0xe0 && lead <= 0xef
				? 3
				: lead >= 0xf0 && lead <= 0xf4
					? 4
					: 0;

/** The character at `at`, where a well-formed UTF-8 sequence starts there. */
function characterAt(bytes: Uint8Array, at: number): string | null {
	const length = sequenceLength(bytes[at]!);
	if (length === 0 || at + length > bytes.length) return null;
	try {
		return strict.decode(bytes.subarray(at, at + length));
	} catch {
		return null;
	}
}

const hex = (value: number, digits: number) => value.toString(16).padStart(digits, '0');

/** A name (or path) as the one printable line that names its bytes exactly. */
export function escapeName(bytes: Uint8Array): string {
	let text = '';
	for (let at = 0; at < bytes.length;) {
		const character = characterAt(bytes, at);
		if (character === null) {
			text += `\\x${hex(bytes[at]!, 2)}`;
			at++;
			continue;
		}
		const code = character.codePointAt(0)!;
		text += !ESCAPED.test(character)
			? character
			: (NAMED[character] ?? (code < 0x80 ? `\\x${hex(code, 2)}` : `\\u${hex(code, 4)}`));
		at += Buffer.byteLength(character);
	}
	return text;
}

const UNESCAPE = /\\(?:x([0-9a-fA-F]{2})|u([0-9a-fA-F]{4})|([nrt\\]))|\\/g;

/** The bytes an escaped name stands for (escapeName undone); a backslash that begins no escape is refused. */
export function unescapeName(text: string): Buffer {
	const parts: Buffer[] = [];
	let from = 0;
	for (const match of text.matchAll(UNESCAPE)) {
		parts.push(Buffer.from(text.slice(from, match.index), 'utf8'));
		const [whole, byte, code, letter] = match;
		if (byte !== undefined) parts.push(Buffer.from([Number.parseInt(byte, 16)]));
		else if (code !== undefined) parts.push(Buffer.from(String.fromCharCode(Number.parseInt(code, 16)), 'utf8'));
		else if (letter !== undefined)
			parts.push(Buffer.from(({n: '\n', r: '\r', t: '\t', '\\': '\\'} as Record<string, string>)[letter]!));
		else
			throw new SnapdeckError(
				'usage',
				`'${text}': a backslash in a guest path begins an escape (\\\\, \\n, \\r, \\t, \\xHH or \\uHHHH), as names are listed`,
				'write a backslash itself as \\\\',
			);
		from = match.index + whole.length;
	}
	parts.push(Buffer.from(text.slice(from), 'utf8'));
	return Buffer.concat(parts);
}
