import {existsSync} from 'node:fs';
import {mkdir, open, readdir, readFile, stat, truncate} from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import {execa} from 'execa';
import {afterEach, describe, expect, it} from 'vitest';
import {jsonLines, jsonOf, snapdeck} from '../helpers/cli.js';
import {labWithVm, MiB, qemuImg, qemuIo, tempDir} from '../helpers/lab.js';

async function cliLab(sizeMiB = 64) {
	const lab = await labWithVm('vm1', ['vda'], sizeMiB);
	const repo = path.join(await tempDir(), 'repo');
	const env = {SNAPDECK_CONNECT: `local:${lab.root}`, SNAPDECK_REPO: repo};
	const run = (...args: string[]) => snapdeck(args, env);
	return {lab, repo, env, run};
}

describe('snapdeck backup, backups, verify, restore, prune', () => {
	it('a full then an incremental, listed, verified, restored and pruned, in the documented JSON shapes', async () => {
		const {lab, repo, run} = await cliLab();
		await lab.write(0x51, 1);
		const first = await run('backup', 'vm1', '--json');
		expect(first.exitCode).toBe(0);
		const lines = jsonLines(first);
		expect(lines[0]).toEqual({
			type: 'decision',
			kind: 'full',
			base: null,
			reason: 'there is no earlier backup of this VM in the repository',
		});
		const full = lines.at(-1)!['point'] as Record<string, unknown>;
		expect(full).toMatchObject({kind: 'full', state: 'complete', parent: null, verified: null});

		await lab.write(0x52, 2);
		const second = await run('backup', 'vm1');
		expect(second.exitCode).toBe(0);
		expect(second.stderr).toContain(`incremental backup over ${full['id']}`);
		expect(second.stdout).toMatch(/^done: incremental backup \S+ of vm1/);

		const listed = jsonOf(await run('backups', 'vm1', '--json'));
		const points = listed['points'] as Array<Record<string, unknown>>;
		expect(points.map(point => point['kind'])).toEqual(['full', 'incremental']);
		for (const point of points)
			expect(Object.keys(point)).toEqual(expect.arrayContaining(['id', 'kind', 'createdAt', 'files', 'verified']));
		expect((await run('backups', 'vm1')).stdout).toMatch(
			/2 backup points .*\n.*ID +KIND +AGE +SIZE +STATE +VERIFIED\n.*full .*never\n.*incremental/,
		);

		const verify = await run('verify', 'vm1', '--restore-test');
		expect(verify.exitCode).toBe(0);
		expect(verify.stdout.split('\n')).toEqual([`ok      ${points[0]!['id']}`, `ok      ${points[1]!['id']}`]);

		const target = path.join(await tempDir(), 'out.qcow2');
		const restore = await run('restore', 'vm1', '--point', String(points[1]!['id']), '--to', target);
		expect(restore.exitCode).toBe(0);
		expect(await qemuIo.holds(target, 0x51, MiB, MiB)).toBe(true);
		expect(await qemuIo.holds(target, 0x52, 2 * MiB, MiB)).toBe(true);

		expect((await run('prune', 'vm1', '--keep-last', '1')).exitCode).toBe(2); // no terminal to confirm on, no --yes
		const prune = await run('prune', 'vm1', '--keep-last', '1', '--yes', '--json');
		expect(prune.exitCode).toBe(0);
		expect(jsonLines(prune).at(-1)).toMatchObject({
			outcome: 'done',
			keep: [points[1]!['id']],
			remove: [points[0]!['id']],
		});
		const left = await readdir(path.join(repo, 'vm1', 'vda'));
		expect(left).toHaveLength(1);
		const again = path.join(await tempDir(), 'again.qcow2');
		expect((await run('restore', 'vm1', '--point', String(points[1]!['id']), '--to', again)).exitCode).toBe(0);
		expect(await qemuImg.same(again, target)).toBe(true);
	});

	it('a flipped byte makes verify exit 1 and name the point', async () => {
		const {lab, repo, run} = await cliLab();
		await lab.write(0x61, 1);
		const point = jsonLines(await run('backup', 'vm1', '--json')).at(-1)!['point'] as {
			id: string;
			files: Array<{file: string}>;
		};
		const file = path.join(repo, 'vm1', point.files[0]!.file);
		const handle = await open(file, 'r+');
		await handle.write(Buffer.from([0x5a]), 0, 1, MiB + 123);
		await handle.close();
		const verify = await run('verify', 'vm1');
		expect(verify.exitCode).toBe(1);
		expect(verify.stdout).toContain(`FAILED  ${point.id}: ${point.files[0]!.file} does not match its checksum`);
		expect(jsonOf(await run('backups', 'vm1', '--json'))['points']).toEqual([
			expect.objectContaining({verified: expect.objectContaining({ok: false})}),
		]);
	});

	it('a damaged image (cut short) is refused before the backup reads or marks it', async () => {
		const {lab, repo, run} = await cliLab();
		await lab.write(0x91, 1);
		const image = await lab.activeFile();
		await truncate(image, 100_000); // past its header, before its tables
		const before = await readFile(image);
		const backup = await run('backup', 'vm1');
		expect(backup.exitCode).toBe(1);
		expect(backup.stderr).toContain('cannot back up vm1');
		expect(backup.stderr).toContain('truncated');
		expect((await readFile(image)).equals(before)).toBe(true);
		expect(jsonOf(await run('backups', 'vm1', '--json'))['points']).toEqual([]);
		expect(existsSync(path.join(repo, 'vm1', 'vda'))).toBe(false);
	});

	it('bad input changes nothing and says what to do', async () => {
		// The argument checks that need no backup are test/cli/sessions.test.ts's (in-process, in memory).
		const {lab, repo, run} = await cliLab();
		const incremental = await run('backup', 'vm1', '--incremental');
		expect(incremental.exitCode).toBe(1);
		expect(incremental.stderr).toContain('cannot take an incremental backup: there is no earlier backup');
		await lab.write(0x71, 1);
		await run('backup', 'vm1');
		const id = (jsonOf(await run('backups', 'vm1', '--json'))['points'] as Array<{id: string}>)[0]!.id;
		expect((await run('restore', 'vm1', '--point', id)).stderr).toContain(
			'restore needs one of --to PATH, --as NAME or --in-place',
		);
		expect((await run('restore', 'vm1', '--point', 'nope', '--to', '/tmp/x')).stderr).toContain(
			"vm1 has no backup point 'nope'",
		);
		// A target that is taken is bad input, as a typo is: exit 2, and nothing is written.
		const taken = await run('restore', 'vm1', '--point', id, '--to', await lab.activeFile());
		expect(taken.stderr).toContain('restore never overwrites');
		expect(taken.exitCode).toBe(2);
		// --dry-run with --to, --as or --instant says what it would make, and makes nothing.
		const out = path.join(await tempDir(), 'dry');
		const labBefore = (await readdir(lab.root)).sort();
		for (const [made, args] of [
			[`new images in ${out}`, ['--to', out]],
			['a new VM vm1-copy', ['--as', 'vm1-copy']],
			['a new VM vm1-now, started at once', ['--instant', '--as', 'vm1-now']],
		] as const) {
			const dry = await run('restore', 'vm1', '--point', id, ...args, '--dry-run');
			expect(dry.exitCode, dry.stderr).toBe(0);
			expect(dry.stdout).toContain(`would restore point ${id} of vm1 (vda) as ${made}`);
			expect(dry.stdout).toContain('(dry run: nothing was changed)');
		}
		expect(jsonOf(await run('restore', 'vm1', '--point', id, '--to', out, '--dry-run', '--json'))).toMatchObject({
			outcome: 'dry-run',
			disks: ['vda'],
		});
		expect((await run('restore', 'vm1', '--point', 'nope', '--to', out, '--dry-run')).stderr).toContain(
			"vm1 has no backup point 'nope'",
		);
		expect(existsSync(out)).toBe(false);
		expect((await readdir(lab.root)).sort()).toEqual(labBefore);
		expect((await readdir(repo)).sort()).toEqual(['.snapdeck-reserve', 'FORMAT', 'RESTORE.md', 'restore.sh', 'vm1']); // the reserve: see Repository.keepReserve; the rest: the restore kit
	});
});

const mounts: string[] = [];
afterEach(async () => {
	for (const mount of mounts.splice(0)) await execa('umount', [mount], {reject: false});
});

describe.runIf(os.userInfo().uid === 0)('a full repository disk (an 8 MiB tmpfs)', () => {
	it('the failed backup says so, and the repository keeps every earlier point restorable', async () => {
		const {lab, repo, run} = await cliLab();
		await mkdir(repo, {recursive: true});
		await execa('mount', ['-t', 'tmpfs', '-o', 'size=8m', 'tmpfs', repo]);
		mounts.push(repo);
		await lab.write(0x81, 1);
		expect((await run('backup', 'vm1')).exitCode).toBe(0);
		const manifest = await readFile(path.join(repo, 'vm1', 'manifest.json'), 'utf8');
		for (let mib = 4; mib < 20; mib++) await lab.write(0x82, mib);
		// Plain clusters: 16 MiB of one repeated byte would compress to almost nothing.
		const failed = await run('backup', 'vm1', '--no-compress');
		expect(failed.exitCode).toBe(1);
		expect(failed.stderr).toMatch(/backup of vm1 failed; the repository is as it was: .*No space left on device/);
		expect(failed.stderr).toContain('free some space');
		expect(await readFile(path.join(repo, 'vm1', 'manifest.json'), 'utf8')).toBe(manifest);
		expect((await readdir(path.join(repo, 'vm1', 'vda'))).length).toBe(1);
		expect((await stat(path.join(repo, 'vm1', 'vda'))).isDirectory()).toBe(true);
		expect((await run('verify', 'vm1', '--restore-test')).exitCode).toBe(0);
	});
});

describe('snapdeck restore --in-place', () => {
	it('asks, takes a safety snapshot, makes the disk read as the point, and the snapshot undoes it', async () => {
		const {lab, run} = await cliLab();
		await lab.write(0x91, 1);
		const backup = jsonLines(await run('backup', 'vm1', '--json')).at(-1)!['point'] as {id: string};
		await lab.write(0x92, 1);
		await lab.write(0x93, 2);
		expect((await run('restore', 'vm1', '--point', backup.id, '--in-place')).exitCode).toBe(2); // no terminal to ask on
		// --dry-run shows the plan the question would show: the restore's, not only its safety snapshot's.
		const dry = await run('restore', 'vm1', '--point', backup.id, '--in-place', '--dry-run');
		expect(dry.exitCode, dry.stderr).toBe(0);
		expect(dry.stdout).toContain(`Plan: restore point ${backup.id} (full,`);
		expect(dry.stdout).toContain(`revert to 'before-restore-${backup.id}' to undo the restore`);
		expect(dry.stdout).toContain('(dry run: nothing was changed)');
		expect(await lab.reads(0x92, 1)).toBe(true);
		const restored = await run('restore', 'vm1', '--point', backup.id, '--in-place', '--yes');
		expect(restored.exitCode).toBe(0);
		expect(restored.stdout).toContain(`restore point ${backup.id}`);
		expect(restored.stdout).toContain(`snapshot 'before-restore-${backup.id}'`);
		expect([await lab.reads(0x91, 1), await lab.reads(0, 2)]).toEqual([true, true]);
		expect((await run('revert', 'vm1', `before-restore-${backup.id}`, '--yes')).exitCode).toBe(0);
		expect([await lab.reads(0x92, 1), await lab.reads(0x93, 2)]).toEqual([true, true]);
	});
});

describe('restore of a VM with two disks', () => {
	it('numbers a step per disk, [1/2] and [2/2], to new images, as a new VM and in place', async () => {
		const lab = await labWithVm('vm1', ['vda', 'vdb'], 16);
		const repo = path.join(await tempDir(), 'repo');
		const run = (...args: string[]) => snapdeck(args, {SNAPDECK_CONNECT: `local:${lab.root}`, SNAPDECK_REPO: repo});
		const backup = jsonLines(await run('backup', 'vm1', '--json')).at(-1)!['point'] as {id: string};
		const steps = (result: {exitCode: number; stderr: string}) => {
			expect(result.exitCode, result.stderr).toBe(0);
			return result.stderr
				.split('\n')
				.filter(line => /^\[\d+\/\d+\] (restore|write) vd[ab] /.test(line))
				.map(line => line.replace(/ of point .*/, ''))
				.sort();
		};
		const out = path.join(await tempDir(), 'out');
		expect(steps(await run('restore', 'vm1', '--point', backup.id, '--to', out))).toEqual([
			'[1/2] restore vda',
			'[2/2] restore vdb',
		]);
		expect(steps(await run('restore', 'vm1', '--point', backup.id, '--as', 'vm2'))).toEqual([
			'[1/2] restore vda',
			'[2/2] restore vdb',
		]);
		expect(steps(await run('restore', 'vm1', '--point', backup.id, '--in-place', '--yes'))).toEqual([
			'[1/2] write vda',
			'[2/2] write vdb',
		]);
	});
});

describe('prune without --keep rules', () => {
	it("prunes by the VM's policy retention, as `snapdeck run` would", async () => {
		const {lab, repo} = await cliLab();
		const configDir = await tempDir();
		const {writeFile} = await import('node:fs/promises');
		await writeFile(
			path.join(configDir, 'config.json'),
			JSON.stringify({policies: [{name: 'two', vms: ['vm*'], backups: {retention: {last: 2}}}]}),
		);
		const env = {SNAPDECK_CONNECT: `local:${lab.root}`, SNAPDECK_REPO: repo, SNAPDECK_CONFIG_DIR: configDir};
		for (const pattern of [0x81, 0x82, 0x83]) {
			await lab.write(pattern, 1);
			expect((await snapdeck(['backup', 'vm1'], env)).exitCode).toBe(0);
		}
		const before = (jsonOf(await snapdeck(['backups', 'vm1', '--json'], env))['points'] as Array<{id: string}>).map(
			point => point.id,
		);
		const pruned = await snapdeck(['prune', 'vm1', '--yes', '--json'], env);
		expect(pruned.exitCode, pruned.stderr).toBe(0);
		expect(jsonLines(pruned).at(-1)).toMatchObject({
			outcome: 'done',
			keep: [...before.slice(1)].reverse(),
			remove: [before[0]],
		});
		expect(
			(jsonOf(await snapdeck(['backups', 'vm1', '--json'], env))['points'] as Array<{id: string}>).map(
				point => point.id,
			),
		).toEqual(before.slice(1));
	});
});

describe('which repository', () => {
	it('the VM\'s policy names it (by name from "repositories", or a directory); --repo and SNAPDECK_REPO come first', async () => {
		const lab = await labWithVm('vm1', ['vda'], 64);
		const offsite = path.join(await tempDir(), 'offsite');
		const configDir = await tempDir();
		const {writeFile} = await import('node:fs/promises');
		await writeFile(
			path.join(configDir, 'config.json'),
			JSON.stringify({
				repositories: {offsite},
				policies: [{name: 'p', vms: ['vm*'], backups: {repository: 'offsite'}}],
			}),
		);
		const env = {SNAPDECK_CONNECT: `local:${lab.root}`, SNAPDECK_CONFIG_DIR: configDir};
		const backup = await snapdeck(['backup', 'vm1', '--json'], env);
		expect(backup.exitCode).toBe(0);
		expect(jsonLines(backup).at(-1)).toMatchObject({repository: offsite});
		const explicit = path.join(await tempDir(), 'explicit');
		expect(jsonLines(await snapdeck(['backup', 'vm1', '--json', '--repo', explicit], env)).at(-1)).toMatchObject({
			repository: explicit,
		});
	});
});

describe('what a backup says it does', () => {
	it('an incremental names the bytes it will copy, not the disk size; --full records why it is a full', async () => {
		const {lab, run} = await cliLab();
		await lab.write(0xa1, 1);
		expect((await run('backup', 'vm1')).exitCode).toBe(0);
		for (const mib of [4, 5, 6]) await lab.write(0xa2, mib);
		const incremental = jsonLines(await run('backup', 'vm1', '--json'));
		const step = incremental.find(line => line['type'] === 'step')!;
		expect(step['summary']).toMatch(/^incremental backup of vda \(3.0 MiB changed since \d{8}T\d{6}Z, of 64.0 MiB\)/);
		const full = await run('backup', 'vm1', '--full', '--json');
		expect(jsonLines(full)[0]).toEqual({
			type: 'decision',
			kind: 'full',
			base: null,
			reason: 'a full backup was asked for',
		});
		expect((jsonLines(full).at(-1)!['point'] as {reason: string}).reason).toBe('a full backup was asked for');
	});
});
