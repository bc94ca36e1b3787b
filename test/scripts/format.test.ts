import {execa} from 'execa';
import {describe, expect, it} from 'vitest';

describe('the formatter (Prettier, .prettierrc.json; npm run format:check)', () => {
	// npm test checks the formatting here, inside the suite, as it lints: one command runs everything CI does.
	it('finds every file of source/, test/, scripts/ and bench/ formatted', async () => {
		const checked = await execa(
			'npx',
			['prettier', '--check', '--log-level', 'warn', 'source', 'test', 'scripts', 'bench'],
			{reject: false},
		);
		expect(checked.exitCode, `${checked.stdout}${checked.stderr}\nnpm run format rewrites them`).toBe(0);
	}, 120_000);

	it("fails on code that is not formatted, and formats it in the code's style", async () => {
		const checked = await execa('npx', ['prettier', '--check', '--stdin-filepath', 'source/core/example.ts'], {
			input: 'export const  a = {b:1}\n',
			reject: false,
		});
		expect(checked.exitCode).toBe(1);
		const formatted = await execa('npx', ['prettier', '--stdin-filepath', 'source/core/example.ts'], {
			input: 'export const  a = {b:1}\n',
		});
		expect(formatted.stdout).toBe('export const a = {b: 1};');
	});
});
