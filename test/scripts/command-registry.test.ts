import {cp, readFile, symlink, writeFile} from 'node:fs/promises';
import path from 'node:path';
import {build} from 'esbuild';
import {pathToFileURL} from 'node:url';
import {execa} from 'execa';
import {describe, expect, it} from 'vitest';
// @ts-expect-error: a plain script of the build, without types
import {registrySource, writeRegistry} from '../../scripts/command-registry.mjs';
import {tempDir} from '../helpers/lab.js';
import {runCli} from '../helpers/memory-cli.js';

const registry = registrySource as (files: readonly string[]) => string;
const write = writeRegistry as (dir: string, options?: {check?: boolean}) => boolean;

/** A command of no use, only this file's: its own module, with a flag of its own, and nothing written anywhere else. */
const THROWAWAY = `import {defineCommand} from '../command.js';
import {print} from '../support.js';

export default defineCommand({
	name: 'frobnicate',
	order: 15,
	summary: 'frobnicate a VM, a command only a test has',
	args: [{key: 'vm', kind: 'vm', help: 'the VM to frobnicate'}],
	flags: ['wobble'],
	ownFlags: {wobble: {type: 'string', value: 'N', whole: [1, 9], help: 'how many times it wobbles'}},
	examples: [{line: 'snapdeck frobnicate web1 --wobble 3', does: 'web1, wobbled three times'}],
	async run({args, flags}) {
		print(\`frobnicated \${args.vm}, \${flags.wobble ?? 1} wobbles\`);
		return 0;
	},
});
`;

describe('the command registry, made from the folder (scripts/command-registry.mjs)', () => {
	it('imports each NAME-command.ts of the folder, by name, and nothing else of it', () => {
		const text = registry(['zap-command.ts', 'command-registry.ts', 'notes.md', 'abc-command.ts', 'helper.ts']);
		expect(text.match(/^import .*$/gm)).toEqual([
			"import type {Command} from '../command.js';",
			"import abcCommand from './abc-command.js';",
			"import zapCommand from './zap-command.js';",
		]);
		expect(text).toContain('[\n\tabcCommand,\n\tzapCommand,\n]');
	});

	it('is checked in as the folder makes it (npm run build writes it; --check fails where it is not)', async () => {
		expect(write('source/cli/commands', {check: true})).toBe(true);
		const dir = await tempDir();
		await writeFile(path.join(dir, 'one-command.ts'), '');
		const check = await execa('node', ['scripts/command-registry.mjs', '--check'], {reject: false});
		expect(check.exitCode).toBe(0);
		expect(write(dir, {check: true})).toBe(false);
		expect(write(dir)).toBe(false);
		expect(await readFile(path.join(dir, 'command-registry.ts'), 'utf8')).toContain(
			"import oneCommand from './one-command.js';",
		);
		expect(write(dir, {check: true})).toBe(true);
	});

	it('a new command is its module alone: the build lists it, and help, completion, did-you-mean and its own flag know it', async () => {
		// A copy of the sources with one module more, built as the bundle is (scripts/bundle.mjs
		// runs the same generator first), with the packages left to node_modules.
		const root = await tempDir();
		await cp('source', path.join(root, 'source'), {recursive: true});
		await symlink(path.resolve('node_modules'), path.join(root, 'node_modules'));
		const commands = path.join(root, 'source/cli/commands');
		await writeFile(path.join(commands, 'frobnicate-command.ts'), THROWAWAY);
		expect(write(commands)).toBe(false);
		const bundle = path.join(root, 'main.mjs');
		await build({
			stdin: {contents: "export {main} from './source/cli/main.ts';", resolveDir: root, loader: 'ts'},
			outfile: bundle,
			bundle: true,
			platform: 'node',
			format: 'esm',
			target: 'node20',
			packages: 'external',
			logLevel: 'silent',
		});
		// Its main, run in this process as the command line's tests run snapdeck's (test/helpers/memory-cli.ts).
		const {main} = (await import(pathToFileURL(bundle).href)) as {main: (argv: string[]) => Promise<number>};
		const snapdeck = (...args: string[]) => runCli(args, {}, main);

		const usage = (await snapdeck('--help')).stdout;
		expect(usage).toMatch(/^ {2}snapdeck frobnicate VM \[--wobble N\] +frobnicate a VM, a command only a test has$/m);
		// Where its order puts it: after demo (10), before list (20).
		expect(usage.indexOf('snapdeck demo')).toBeLessThan(usage.indexOf('snapdeck frobnicate'));
		expect(usage.indexOf('snapdeck frobnicate')).toBeLessThan(usage.indexOf('snapdeck list'));

		const help = await snapdeck('help', 'frobnicate');
		expect(help.exitCode).toBe(0);
		expect(help.stdout).toMatch(/^ {2}--wobble N +how many times it wobbles$/m);
		expect(help.stdout).toContain('  snapdeck frobnicate web1 --wobble 3');

		const completion = (await snapdeck('completion', 'bash')).stdout;
		expect(completion).toMatch(/compgen -W '[^']*\bfrobnicate\b[^']*help'/);
		expect(completion).toContain(
			"'frobnicate') COMPREPLY+=($(compgen -W '--connect --json --yes --dry-run --repo --now --help --wobble'",
		);
		// Its flag takes a value: completion skips that value when it looks for the command.
		expect(completion).toMatch(/\|--wobble[|)]/);

		const typo = await snapdeck('frobnicat', 'web1');
		expect([typo.exitCode, typo.stderr]).toEqual([
			2,
			expect.stringContaining("unknown command 'frobnicat': did you mean 'frobnicate'?"),
		]);
		const flagTypo = await snapdeck('frobnicate', 'web1', '--wobbel', '3');
		expect([flagTypo.exitCode, flagTypo.stderr]).toEqual([
			2,
			expect.stringContaining("unknown option '--wobbel': did you mean --wobble?"),
		]);

		expect((await snapdeck('frobnicate', 'web1', '--wobble', '3')).stdout).toBe('frobnicated web1, 3 wobbles');
		expect((await snapdeck('--wobble=4', 'frobnicate', 'web1')).stdout).toBe('frobnicated web1, 4 wobbles');
		const range = await snapdeck('frobnicate', 'web1', '--wobble', '12');
		expect([range.exitCode, range.stderr]).toEqual([
			2,
			expect.stringContaining('--wobble N takes a whole number from 1 to 9, got "12"'),
		]);
		const elsewhere = await snapdeck('list', '--wobble', '3');
		expect([elsewhere.exitCode, elsewhere.stderr]).toEqual([
			2,
			expect.stringContaining("'snapdeck list' does not take --wobble"),
		]);
	});
});
