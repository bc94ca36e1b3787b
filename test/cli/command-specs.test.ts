import os from 'node:os';
import path from 'node:path';
import {describe, expect, it} from 'vitest';
import {COMMANDS} from '../../source/cli/commands/command-registry.js';
import {flagOf, type Command} from '../../source/cli/command.js';
import {everyFlag, flagTableOf} from '../../source/cli/command-flags.js';
import {FLAGS, GLOBAL_FLAGS, type FlagName} from '../../source/cli/flags.js';
import {jsonOf, type CliResult} from '../helpers/cli.js';
import {runCli as snapdeck} from '../helpers/memory-cli.js';

const every: Command[] = COMMANDS.flatMap(command => [command, ...(command.subcommands ?? [])]);
/** A connection that cannot open: a command that got that far would say so, not what is wrong with its arguments. */
const nowhere = ['--connect', `local:${path.join(os.tmpdir(), 'snapdeck-no-such-lab')}`];
const helps = new Map<string, Promise<CliResult>>();
/** `snapdeck help NAME`, run once for the file (in-process: what is tested is the specs, not the binary's start). */
const helpOf = (name: string) => helps.get(name) ?? helps.set(name, snapdeck(['help', name])).get(name)!;

describe('command specs: help and usage made from them', () => {
	it("every command's help starts with its typed synopsis: its arguments, and every flag it takes", async () => {
		for (const command of COMMANDS) {
			const help = await helpOf(command.name);
			expect(help.exitCode, command.name).toBe(0);
			// The synopsis may wrap: read it up to its first blank line.
			const synopsis = help.stdout
				.split('\n\n')[0]!
				.replace(/^Usage:\n/, '')
				.replace(/\n +/g, ' ')
				.trim();
			const args = command.args.map(spec => {
				const name = spec.name ?? (spec.kind === 'word' ? spec.words!.join('|') : spec.key.toUpperCase());
				const shown = spec.variadic ? `${name}...` : name;
				return spec.optional ? `[${shown}]` : shown;
			});
			expect(synopsis, command.name).toMatch(
				new RegExp(`^snapdeck ${command.name}${args.map(arg => ` ${arg.replace(/[[\]|.]/g, '\\$&')}`).join('')}( |$)`),
			);
			for (const flag of command.flags) {
				const value = flagOf(command, flag).value;
				expect(synopsis, `${command.name} --${flag}`).toContain(`--${flag}${value ? ` ${value}` : ''}`);
			}
		}
		const revert = await helpOf('revert');
		expect(revert.stdout.split('\n')[1]).toBe('  snapdeck revert VM SNAPSHOT [--yes] [--dry-run]');
		// The gaps of the hand-written lines: copy took --force and --origin without saying so.
		const copy = (await helpOf('copy')).stdout.split('\n\n')[0]!;
		expect(copy).toContain('[--force]');
		expect(copy).toContain('[--origin HOST|TAG]');
		expect((await helpOf('health')).stdout.split('\n')[1]).toMatch(/^ {2}snapdeck health \[VM\.\.\.\]/);
	});

	it('a subcommand is listed and helped with its own synopsis', async () => {
		const help = await helpOf('receipts');
		expect(help.stdout).toContain('  snapdeck receipts VM [--origin HOST|TAG]\n');
		expect(help.stdout).toContain('  snapdeck receipts verify FILE [--key PUBLIC]\n');
		expect(help.stdout).toContain('Arguments:\n  FILE');
		expect((await snapdeck(['--help'])).stdout).toContain('  snapdeck receipts verify FILE [--key PUBLIC]');
	});

	it("a subcommand's help alone: 'help receipts verify' and 'receipts verify --help'; a second word that names none is refused", async () => {
		for (const args of [
			['help', 'receipts', 'verify'],
			['receipts', 'verify', '--help'],
		]) {
			const help = await snapdeck(args);
			expect(help.exitCode, args.join(' ')).toBe(0);
			expect(help.stdout.split('\n').slice(0, 2)).toEqual(['Usage:', '  snapdeck receipts verify FILE [--key PUBLIC]']);
			expect(help.stdout).not.toContain('snapdeck receipts VM');
		}
		const wrong = await snapdeck(['help', 'receipts', 'verfy']);
		expect(wrong.exitCode).toBe(2);
		expect(wrong.stderr).toContain("'snapdeck help receipts verify'");
		expect((await snapdeck(['help', 'list', 'web1'])).exitCode).toBe(2);
		expect((await snapdeck(['list', 'web1', '--help'])).stdout).toContain('  snapdeck list');
	});

	it("a subcommand's usage errors point at its own help, which says what they are about", async () => {
		for (const args of [
			['receipts', 'verify'],
			['receipts', 'verify', 'a.json', 'b.json'],
			['receipts', 'verify', 'a.json', '--bogus'],
			['receipts', 'verify', 'a.json', '--point', '1'],
		]) {
			const run = await snapdeck(args);
			expect(run.exitCode, args.join(' ')).toBe(2);
			expect(run.stderr, args.join(' ')).toMatch(/'snapdeck help receipts verify'( tells more| lists its options|$)/m);
		}
	});

	it("help lists the commands by their specs' order, each at a place of its own", async () => {
		const orders = COMMANDS.map(command => command.order);
		expect(orders).toEqual([...orders].sort((a, b) => a! - b!));
		expect(new Set(orders).size).toBe(COMMANDS.length);
		const usage = (await snapdeck(['--help'])).stdout;
		const at = COMMANDS.map(command => usage.indexOf(`  snapdeck ${command.name}`));
		expect(at).toEqual([...at].sort((a, b) => a - b));
		expect(COMMANDS.slice(0, 3).map(command => command.name)).toEqual(['demo', 'list', 'tree']);
	});

	it('each command has a summary and an example of itself, and help for each of its arguments', () => {
		for (const command of every) {
			expect(command.summary.length, command.name).toBeGreaterThan(10);
			expect(command.examples.length, command.name).toBeGreaterThan(0);
			for (const example of command.examples)
				expect(example.line, command.name).toMatch(new RegExp(`(^|\\s)snapdeck ${command.name}( |$)`));
			for (const spec of command.args) expect(spec.help, `${command.name} ${spec.key}`).not.toBe('');
			// A variadic argument is the last one; words come with a word list.
			expect(
				command.args.slice(0, -1).some(spec => spec.variadic),
				command.name,
			).toBe(false);
			for (const spec of command.args)
				expect(spec.kind === 'word', `${command.name} ${spec.key}`).toBe(spec.words !== undefined);
		}
	});
});

describe('one meaning per option', () => {
	it("an option reads the same kind of value in every command's help (a --to PATH here is no --to DIR there)", async () => {
		const seen = new Map<string, Set<string>>();
		for (const command of COMMANDS) {
			const help = (await helpOf(command.name)).stdout;
			for (const [, flag, value] of help.matchAll(/--([a-z][a-z-]*)(?: ([A-Z][A-Z|]*|[a-z]+\|[a-z|]+))?\b/g)) {
				if (!(flag! in everyFlag()) || value === undefined) continue;
				seen.set(flag!, new Set([...(seen.get(flag!) ?? []), value]));
			}
		}
		const disagree = [...seen]
			.filter(([, values]) => values.size > 1)
			.map(([flag, values]) => `--${flag}: ${[...values].join(', ')}`);
		expect(disagree).toEqual([]);
		for (const [flag, values] of seen) expect([...values], flag).toEqual([everyFlag()[flag]!.value]);
	});

	it("a flag is the shared table's or one command's own: a second command declaring a name, or a shared one, is refused", () => {
		// Every command line reads this table: it holds every flag once.
		const table = everyFlag();
		for (const command of every) {
			for (const flag of command.flags)
				expect(flag in FLAGS || flag in (command.ownFlags ?? {}), `${command.name} --${flag}`).toBe(true);
			for (const [flag, spec] of Object.entries(command.ownFlags ?? {})) {
				expect(command.flags, `${command.name} lists its own --${flag}`).toContain(flag);
				expect(table[flag], flag).toBe(spec);
			}
		}
		const command = (name: string, ownFlags: Command['ownFlags']) =>
			({...COMMANDS[0]!, name, flags: Object.keys(ownFlags ?? {}), ownFlags, subcommands: []}) as Command;
		const wobble = {type: 'string', value: 'N', help: 'how many times'} as const;
		expect(() =>
			flagTableOf([command('frob', {wobble}), command('frab', {wobble: {...wobble, value: 'MIB'}})]),
		).toThrow(
			"'snapdeck frab' declares --wobble as its own, and 'snapdeck frob' does too: a flag has one meaning; one that several commands take goes in the shared table (flags.ts)",
		);
		expect(() => flagTableOf([command('frob', {to: {type: 'string', value: 'HOST', help: 'a host'}})])).toThrow(
			"'snapdeck frob' declares --to as its own, and flags.ts shares it",
		);
		expect(flagTableOf([command('frob', {wobble})]).wobble).toBe(wobble);
	});

	it("an option's help, as a command shows it, names only options that command takes (no words copied from another command)", () => {
		const wrong: string[] = [];
		for (const command of every) {
			const takes = new Set<string>([...command.flags, ...GLOBAL_FLAGS]);
			for (const flag of command.flags) {
				const help = command.flagHelp?.[flag as FlagName] ?? flagOf(command, flag).help;
				for (const [, named] of help.matchAll(/--([a-z][a-z-]*)/g))
					if (!takes.has(named!)) wrong.push(`${command.name} --${flag}: names --${named}`);
			}
		}
		expect(wrong).toEqual([]);
	});

	it("a command's own words for an option are for an option it takes, and say what that option says: where it is written, not read", () => {
		for (const command of every) {
			for (const flag of Object.keys(command.flagHelp ?? {}) as FlagName[]) {
				expect(command.flags, `${command.name} --${flag}`).toContain(flag);
			}
		}
		// --to is where a command writes (restore's new image, files' folder to copy into): one meaning.
		const writers = every.filter(command => command.flags.includes('to'));
		expect(writers.map(command => command.name).sort()).toEqual(['files', 'restore']);
		for (const command of writers)
			expect(command.flagHelp?.to ?? FLAGS.to.help, command.name).not.toMatch(/\bread\b|\bfrom\b/);
	});
});

describe('arguments are checked against the spec before any session opens', () => {
	it('a wrong count: what is missing or extra, the usage, exit 2', async () => {
		const cases: Array<[string[], string, string]> = [
			[
				['revert', 'vm1'],
				"'snapdeck revert' needs VM SNAPSHOT: SNAPSHOT is missing",
				'usage: snapdeck revert VM SNAPSHOT [--yes] [--dry-run]',
			],
			[['tree'], "'snapdeck tree' needs VM: VM is missing", 'usage: snapdeck tree VM'],
			[
				['tree', 'vm1', 'vm2'],
				'\'snapdeck tree\' takes VM, got 2 arguments: "vm2" is one too many',
				'usage: snapdeck tree VM',
			],
			[['list', 'vm1'], '\'snapdeck list\' takes no arguments, got 1 argument: "vm1"', 'usage: snapdeck list'],
			[
				['config', 'shwo'],
				"'snapdeck config' takes 'path', 'show', 'validate', 'schema' here, got \"shwo\": did you mean 'show'?",
				'usage: snapdeck config path|show|validate|schema [FILE]',
			],
			[
				['receipts', 'verify'],
				"'snapdeck receipts verify' needs FILE: FILE is missing",
				'usage: snapdeck receipts verify FILE [--key PUBLIC]',
			],
		];
		for (const [args, message, usage] of cases) {
			const run = await snapdeck([...args, ...nowhere]);
			expect([run.exitCode, run.stdout], args.join(' ')).toEqual([2, '']);
			expect(run.stderr, args.join(' ')).toContain(`snapdeck: ${message}\n`);
			expect(run.stderr, args.join(' ')).toContain(usage);
		}
	});

	it.each(['with space', "qu'ote", 'semi;colon', '$(touch pwned)', '../escape', '-rf', 'snäpshot', ''])(
		'an odd VM name %j: refused as a name, with the usage, before the connection is tried',
		async name => {
			for (const args of [
				['tree', '--', name],
				['snapshot', '--', name, 's1'],
				['backup', '--', name],
				['health', '--', 'vm1', name],
			]) {
				const run = await snapdeck([...nowhere, '--yes', ...args]);
				expect(run.exitCode, args.join(' ')).toBe(2);
				expect(run.stderr, args.join(' ')).toContain(`invalid VM name ${JSON.stringify(name)}`);
				expect(run.stderr, args.join(' ')).toContain(`usage: snapdeck ${args[0]} `);
				expect(run.stderr, args.join(' ')).not.toContain('snapdeck-no-such-lab');
			}
			const json = await snapdeck([...nowhere, 'revert', '--json', '--', 'vm1', name]);
			expect(jsonOf(json)).toMatchObject({
				type: 'error',
				exitCode: 2,
				error: {code: 'bad-name', message: expect.stringContaining(`invalid snapshot name ${JSON.stringify(name)}: `)},
			});
		},
	);

	it("an option's value is checked against its spec before anything opens: a whole number in its range, one of its words", async () => {
		const cases: Array<[string[], string]> = [
			// verify ran every check of the points before it looked at --timeout.
			[['verify', 'vm1', '--boot', '--timeout', '2'], '--timeout S takes a whole number from 5 to 3600, got "2"'],
			[['backup', 'vm1', '--limit', '0'], '--limit MIB takes a whole number of 1 or more, got "0"'],
			[['prune', 'vm1', '--keep-last', 'seven'], '--keep-last N takes a whole number of 1 or more, got "seven"'],
			[['log', '--last=-1'], '--last N takes a whole number of 1 or more, got "-1"'],
			[['schedule', 'install', '--via', 'upstart'], '--via systemd|cron takes systemd or cron, got "upstart"'],
		];
		for (const [args, message] of cases) {
			const run = await snapdeck([...args, ...nowhere]);
			expect([run.exitCode, run.stderr], args.join(' ')).toEqual([
				2,
				expect.stringContaining(`snapdeck: ${message}\n  usage: snapdeck ${args[0]} `),
			]);
		}
	});

	it('a flag the command cannot do without, asked for before anything opens', async () => {
		const run = await snapdeck(['files', 'vm1', ...nowhere]);
		expect([run.exitCode, run.stderr]).toEqual([2, expect.stringContaining('files needs --point ID')]);
	});
});
