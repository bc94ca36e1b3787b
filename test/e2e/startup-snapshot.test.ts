import {chmod, cp, mkdir, readFile, rm, truncate, writeFile} from 'node:fs/promises';
import path from 'node:path';
import {build} from 'esbuild';
import {execa} from 'execa';
import {describe, expect, it} from 'vitest';
import {jsonLines, snapdeck} from '../helpers/cli.js';
import {labWithVm, qemuIo, tempDir} from '../helpers/lab.js';

/**
 * bin/snapdeck starts commands from the build's startup snapshot (dist/snapshot/cli.blob), where
 * every module was loaded and initialised at build time. What a user would notice if that went
 * wrong: the build's environment instead of theirs, threads that do not start, or a snapshot that
 * does not fit their node; each is tried here on the real command.
 */

/** A qemu-img that notes the command line of the snapdeck process that ran it, then does the real work. */
async function recordingQemuImg(): Promise<{script: string; starts: () => Promise<string[]>}> {
	const dir = await tempDir();
	const script = path.join(dir, 'qemu-img');
	const log = path.join(dir, 'starts');
	await writeFile(
		script,
		`#!/bin/sh\ntr '\\0' ' ' </proc/$PPID/cmdline >>${JSON.stringify(log)}; echo >>${JSON.stringify(log)}\nexec qemu-img "$@"\n`,
	);
	await chmod(script, 0o755);
	return {script, starts: async () => (await readFile(log, 'utf8').catch(() => '')).split('\n').filter(Boolean)};
}

/** bin/ and dist/ copied (as an installation elsewhere), with `edit` applied to the copy's dist/. */
async function installedCopy(edit: (dist: string) => Promise<void>): Promise<string> {
	const root = await tempDir();
	await mkdir(path.join(root, 'bin'));
	for (const file of ['snapdeck', 'snapdeck.js'])
		await cp(path.resolve('bin', file), path.join(root, 'bin', file), {preserveTimestamps: true});
	await cp(path.resolve('dist'), path.join(root, 'dist'), {recursive: true});
	await edit(path.join(root, 'dist'));
	return path.join(root, 'bin', 'snapdeck');
}

describe('commands start from the startup snapshot (bin/snapdeck, dist/snapshot/)', () => {
	it.each([
		{start: "the build's snapshot", from: 'snapshot', env: {}, bin: async () => path.resolve('bin/snapdeck')},
		{
			start: 'a snapshot another node binary made: the bundle',
			from: 'bundle',
			env: {},
			bin: () => installedCopy(dist => writeFile(path.join(dist, 'snapshot', 'node'), '1 2\n')),
		},
		{
			start: 'no snapshot at all: the bundle',
			from: 'bundle',
			env: {},
			bin: () => installedCopy(dist => rm(path.join(dist, 'snapshot', 'cli.blob'))),
		},
		// Node crashes (SIGSEGV, or an assertion) on a blob cut short by a copy or a full disk.
		{
			start: 'a snapshot cut short: the bundle',
			from: 'bundle',
			env: {},
			bin: () => installedCopy(dist => truncate(path.join(dist, 'snapshot', 'cli.blob'), 1 << 20)),
		},
		{
			start: 'an empty snapshot: the bundle',
			from: 'bundle',
			env: {},
			bin: () => installedCopy(dist => truncate(path.join(dist, 'snapshot', 'cli.blob'), 0)),
		},
		{
			start: 'NODE_OPTIONS set (its flags may not fit the snapshot): the bundle',
			from: 'bundle',
			env: {NODE_OPTIONS: '--max-old-space-size=512'},
			bin: async () => path.resolve('bin/snapdeck'),
		},
	])('from $start: a snapshot is taken with the environment of this run', async ({from, env, bin}) => {
		const lab = await labWithVm('vm1');
		const qemuImg = await recordingQemuImg();
		const run = await execa(await bin(), ['snapshot', 'vm1', 's1', '--yes', '--connect', `local:${lab.root}`], {
			reject: false,
			stdin: 'ignore',
			env: {...env, SNAPDECK_QEMU_IMG: qemuImg.script, NO_COLOR: '1'},
		});
		expect(run.exitCode, run.stderr).toBe(0);
		expect((await lab.vmFile()).current).toBe('s1');
		// This run's SNAPDECK_QEMU_IMG was the one used (read when used, not when the snapshot was built).
		const starts = await qemuImg.starts();
		expect(starts.length).toBeGreaterThan(0);
		for (const start of starts) {
			if (from === 'snapshot') expect(start).toContain('--snapshot-blob');
			else expect(start).not.toContain('--snapshot-blob');
		}
	});

	it('the folders in the home of this run, not of the build: HOME and XDG_* are read when used', async () => {
		// What a module computes from the home folder as it loads is the builder's home in every run
		// (env-paths did so): the demo lab, the backups and the configuration went to /root for everyone.
		const home = await tempDir();
		const env = {HOME: home, XDG_DATA_HOME: '', XDG_CONFIG_HOME: '', SNAPDECK_CONFIG_DIR: ''};
		const config = await snapdeck(['config', 'path'], env);
		expect(config.exitCode, config.stderr).toBe(0);
		expect(config.stdout.trim()).toBe(path.join(home, '.config', 'snapdeck', 'config.json'));
		const list = await snapdeck(['list'], env);
		expect(list.exitCode).toBe(2);
		expect(list.stderr).toContain(`there is no lab at ${path.join(home, '.local', 'share', 'snapdeck', 'demo')}`);
		const xdg = await tempDir();
		const elsewhere = await snapdeck(['list'], {...env, XDG_DATA_HOME: xdg});
		expect(elsewhere.stderr).toContain(`there is no lab at ${path.join(xdg, 'snapdeck', 'demo')}`);
	});

	it.each([
		{
			read: "`'NAME' in process.env`",
			code: "export const forced = 'SNAPDECK_FORCED' in process.env;",
			named: 'SNAPDECK_FORCED',
		},
		{
			read: 'Object.keys(process.env)',
			code: 'export const names = Object.keys(process.env).length;',
			named: 'every variable',
		},
	])(
		'the build fails on a module that reads the environment as it loads through $read (snapshot-guard.ts)',
		async ({code, named}) => {
			// A proxy that sees only `process.env.NAME` let these keep the build's environment unseen.
			const dir = await tempDir();
			await writeFile(path.join(dir, 'reader.ts'), `${code}\n`);
			await writeFile(
				path.join(dir, 'entry.ts'),
				`import {loaded} from ${JSON.stringify(path.resolve('source/cli/snapshot-guard.ts'))};\nimport * as reader from './reader.js';\nloaded();\nconsole.log(reader);\n`,
			);
			await build({
				entryPoints: [path.join(dir, 'entry.ts')],
				outfile: path.join(dir, 'entry.cjs'),
				bundle: true,
				format: 'cjs',
				platform: 'node',
				logLevel: 'silent',
			});
			const made = await execa(
				process.execPath,
				['--snapshot-blob', path.join(dir, 'entry.blob'), '--build-snapshot', path.join(dir, 'entry.cjs')],
				{reject: false, stdin: 'ignore', env: {SNAPDECK_FORCED: '1'}},
			);
			expect(made.exitCode).not.toBe(0);
			expect(made.stderr).toContain(`modules read ${named}`);
		},
	);

	it('a backup of a disk over 64 MiB: its point is hashed in a thread (which a snapshot must be able to start), and verify proves it', async () => {
		const lab = await labWithVm('big1', ['vda'], 128);
		await qemuIo.write(await lab.activeFile(), 0x5c, 0, 80 << 20);
		const env = {SNAPDECK_CONNECT: `local:${lab.root}`, SNAPDECK_REPO: path.join(await tempDir(), 'repo')};
		const backup = await snapdeck(['backup', 'big1', '--no-compress', '--json'], env);
		expect(backup.exitCode, backup.stderr).toBe(0);
		const point = jsonLines(backup).at(-1)!['point'] as {id: string; files: Array<{file: string; size: number}>};
		expect(point.files[0]!.size).toBeGreaterThan(64 << 20);
		const verify = await snapdeck(['verify', 'big1', '--json'], env);
		expect(verify.exitCode, verify.stderr).toBe(0);
	});
});
