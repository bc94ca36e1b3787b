import {mkdtemp, rm, writeFile} from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import {styledCharsFromTokens, styledCharsToString, tokenize} from '@alcalzone/ansi-tokenize';
import {build} from 'esbuild';
import {afterAll, beforeAll, describe, expect, it} from 'vitest';
// @ts-expect-error: a plain script of the build, without types
import {fasterStyledChars, patchStyledChars} from '../../scripts/ansi-tokenize-patch.mjs';

type Tokenizer = {
	styledCharsFromTokens: typeof styledCharsFromTokens;
	styledCharsToString: typeof styledCharsToString;
	tokenize: typeof tokenize;
};

/** Styled text as Ink's cells hold it: runs of colours, bold, dim, inverse, resets, links, wide characters. */
function randomStyledText(random: () => number): string {
	const codes = [
		'\x1b[31m',
		'\x1b[39m',
		'\x1b[1m',
		'\x1b[2m',
		'\x1b[22m',
		'\x1b[7m',
		'\x1b[27m',
		'\x1b[0m',
		'\x1b[38;5;244m',
		'\x1b[48;2;1;2;3m',
		'\x1b[49m',
		'\x1b]8;;https://x.example\x07',
		'\x1b]8;;\x07',
	];
	const text = ['a', ' ', 'é', '界', '✓', '·', '…'];
	let out = '';
	for (let i = 0; i < 40; i++)
		out += random() < 0.3 ? codes[Math.floor(random() * codes.length)] : text[Math.floor(random() * text.length)];
	return out;
}

describe("the bundle's faster styledCharsToString (scripts/ansi-tokenize-patch.mjs)", () => {
	let dir: string;
	let patched: Tokenizer;
	beforeAll(async () => {
		// The package as the bundle builds it: the patch applied by the same plugin.
		const result = await build({
			stdin: {contents: "export * from '@alcalzone/ansi-tokenize';", resolveDir: process.cwd()},
			bundle: true,
			format: 'esm',
			platform: 'node',
			write: false,
			plugins: [fasterStyledChars],
			logLevel: 'silent',
		});
		expect(result.outputFiles[0]!.text).toContain('sameCodes(chars[i - 1].styles, char.styles)');
		dir = await mkdtemp(path.join(os.tmpdir(), 'snapdeck-ansi-patch-'));
		await writeFile(path.join(dir, 'patched.mjs'), result.outputFiles[0]!.text);
		patched = (await import(path.join(dir, 'patched.mjs'))) as Tokenizer;
	});
	afterAll(() => rm(dir, {recursive: true, force: true}));

	it('writes the same text as the package for styled cells of every kind', () => {
		let seed = 29;
		const random = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
		for (let run = 0; run < 2000; run++) {
			const line = randomStyledText(random);
			// Rows as Ink's Output builds them: the cells of one line, and cells of two lines side by side.
			const cells = styledCharsFromTokens(tokenize(line));
			const mixed = [
				...cells.slice(0, 10),
				...styledCharsFromTokens(tokenize(randomStyledText(random))),
				{type: 'char' as const, value: ' ', fullWidth: false, styles: []},
			];
			for (const row of [cells, mixed, []]) expect(patched.styledCharsToString(row)).toBe(styledCharsToString(row));
		}
	});

	it('refuses a package whose loop it does not know, instead of bundling it unpatched', () => {
		expect(() => patchStyledChars('export function styledCharsToString(chars) { return ""; }')).toThrow(
			/changed: check whether/,
		);
	});
});
