import {execa} from 'execa';
import {describe, expect, it} from 'vitest';

describe("the README's command list", () => {
	it("is what 'snapdeck --help' prints, made from the command registry (npm run readme writes it)", async () => {
		const check = await execa('node', ['scripts/readme-commands.mjs', '--check'], {reject: false});
		expect(check.stderr).toBe('');
		expect(check.exitCode).toBe(0);
	});
});
