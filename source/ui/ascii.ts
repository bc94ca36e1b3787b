/**
 * The UI's drawing characters (borders, marks, arrows, the tree) as ASCII, for terminals that
 * cannot show them: a locale that is not UTF-8 (LANG=C, as in many cron and rescue shells) or
 * TERM=dumb. Applied to everything Ink writes, so every component and Ink's own '…' follow; each
 * character keeps its width, so the layout Ink computed stays right.
 */
const GLYPHS: Record<string, string> = {
	'╭': '+',
	'╮': '+',
	'╰': '+',
	'╯': '+',
	'┌': '+',
	'┐': '+',
	'└': '`',
	'┘': '+',
	'─': '-',
	'│': '|',
	'├': '|',
	'┤': '|',
	'▸': '>',
	'▶': '>',
	'◀': '<',
	'›': '>',
	'✓': '+',
	'✗': 'x',
	'·': '.',
	'…': '~',
	'█': '#',
	'░': '-',
	'▏': '_',
	'↑': '^',
	'↓': 'v',
	'←': '<',
	'→': '>',
	'×': 'x',
};

/** Characters two columns wide (CJK, fullwidth forms, most emoji): replaced by two. */
const WIDE =
	/[\u1100-\u115F\u2E80-\u303E\u3041-\u33FF\u3400-\u4DBF\u4E00-\u9FFF\uA000-\uA4CF\uAC00-\uD7A3\uF900-\uFAFF\uFE30-\uFE4F\uFF00-\uFF60\uFFE0-\uFFE6]|[\u{1F300}-\u{1F64F}\u{1F900}-\u{1F9FF}\u{20000}-\u{3FFFD}]/u;

export function toAscii(text: string): string {
	return text.replace(
		/[^\x00-\x7F]/gu,
		char => GLYPHS[char] ?? (/\p{M}/u.test(char) ? '' : WIDE.test(char) ? '??' : '?'),
	);
}

/** Whether to draw in ASCII: TERM=dumb, or a locale (LC_ALL, else LC_CTYPE, else LANG) that is not UTF-8. */
export function asciiRequested(env: NodeJS.ProcessEnv = process.env): boolean {
	if (env['TERM'] === 'dumb') return true;
	const locale = env['LC_ALL'] || env['LC_CTYPE'] || env['LANG'] || '';
	return !/utf-?8/i.test(locale);
}

/** `stream` with every write turned into ASCII; the rest (size, resize events, isTTY) is the stream's own. */
export function asciiStream(stream: NodeJS.WriteStream): NodeJS.WriteStream {
	const wrapped = Object.create(stream) as NodeJS.WriteStream;
	wrapped.write = ((chunk: unknown, ...rest: unknown[]) =>
		(stream.write as (...args: unknown[]) => boolean)(
			typeof chunk === 'string' ? toAscii(chunk) : chunk,
			...rest,
		)) as NodeJS.WriteStream['write'];
	return wrapped;
}
