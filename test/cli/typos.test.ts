import {describe, expect, it} from 'vitest';
import {jsonOf, snapdeck} from '../helpers/cli.js';
import {nearest} from '../../source/cli/suggest.js';

describe("typos on the command line get a suggestion in snapdeck's words, exit 2, and change nothing", () => {
	it('bare snapdeck where there is no terminal says why no UI opened, then the usage (exit 2)', async () => {
		const bare = await snapdeck([]);
		expect(bare.exitCode).toBe(2);
		expect(bare.stdout).toContain('Usage:');
		expect(bare.stderr).toContain('snapdeck: the terminal UI needs a terminal');
		// Asked for, help is no mistake.
		const help = await snapdeck(['--help']);
		expect([help.exitCode, help.stderr]).toEqual([0, '']);
	});

	it('a mistyped command or option names the nearest; nothing near, nothing suggested', async () => {
		const cases: Array<[string[], string]> = [
			[['lsit'], "unknown command 'lsit': did you mean 'list'?"],
			[['sanpshot', 'vm1', 'x'], "unknown command 'sanpshot': did you mean 'snapshot'?"],
			[['help', 'backpu'], "unknown command 'backpu': did you mean 'backup' or 'backups'?"],
			[['list', '--jsn'], "unknown option '--jsn': did you mean --json?"],
			[['backup', 'vm1', '--ful'], "unknown option '--ful': did you mean --full?"],
			[['list', '--repo'], '--repo needs a value (--repo DIR)'],
			[['list', '--yes=1'], '--yes takes no value'],
			[['frobnicate'], "unknown command 'frobnicate'\n"],
			[['receipts', 'verfy', 'r.json'], "did you mean 'snapdeck receipts verify'?"],
			[['receipts', 'verify', 'r.json', '--kye'], "unknown option '--kye': did you mean --key?"],
			[['schedule', 'instal'], 'got "instal": did you mean \'install\'?'],
		];
		for (const [args, message] of cases) {
			const result = await snapdeck(args);
			expect([result.exitCode, result.stdout], args.join(' ')).toEqual([2, '']);
			expect(result.stderr, args.join(' ')).toContain(
				message.startsWith('did you') || message.startsWith('got') ? message : `snapdeck: ${message}`,
			);
			// node's own wording ("To specify a positional argument starting with a '-'...") never shows.
			expect(result.stderr).not.toMatch(/To specify|positional argument|ERR_PARSE/);
		}
		expect(jsonOf(await snapdeck(['list', '--jsn', '--json']))).toMatchObject({
			type: 'error',
			exitCode: 2,
			error: {code: 'usage', message: "unknown option '--jsn': did you mean --json?"},
		});
	});

	it("an unknown option's hint points at the help of the command typed, and says what a word that begins with '-' can be there", async () => {
		// A VM or snapshot name never begins with '-': no '--' example, which would only lead to a refusal.
		const backup = await snapdeck(['backup', 'vm1', '--ful']);
		expect(backup.stderr).toContain(
			"'snapdeck help backup' lists its options; no VM or snapshot name begins with '-' (names begin with a letter or a digit)",
		);
		expect(backup.stderr).not.toMatch(/snapdeck tree|after '--'/);
		// A file that does is accepted after '--', as the hint shows on the command typed.
		const verify = await snapdeck(['receipts', 'verify', '-r.json']);
		expect(verify.stderr).toContain(
			"'snapdeck help receipts verify' lists its options; a FILE that begins with '-' is accepted after '--', which ends the options (snapdeck receipts verify -- -FILE)",
		);
		const followed = await snapdeck(['receipts', 'verify', '--', '-r.json']);
		expect([followed.exitCode, followed.stderr]).toEqual([2, 'snapdeck: there is no receipt -r.json']);
		// list takes no arguments: its help alone.
		const list = await snapdeck(['list', '--jsn']);
		expect(list.stderr).toContain("'snapdeck help list' lists its options");
		expect(list.stderr).not.toContain("'-'");
	});

	it("prune's synopsis names --from TARGET, which its text and options describe", async () => {
		const help = await snapdeck(['help', 'prune']);
		expect(help.stdout.split('\n').slice(0, 3).join('\n')).toContain('[--from TARGET]');
	});

	it('near means one edit in a short word (a swap is one), two in a longer one', () => {
		const commands = ['list', 'tree', 'log', 'backup', 'backups', 'restore', 'verify'];
		expect(nearest('lsit', commands)).toEqual(['list']);
		expect(nearest('lgo', commands)).toEqual(['log']);
		expect(nearest('restroe', commands)).toEqual(['restore']);
		expect(nearest('xyz', commands)).toEqual([]);
		expect(nearest('vrfy', commands)).toEqual([]);
	});
});
