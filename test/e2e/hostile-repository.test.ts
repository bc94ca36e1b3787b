import {lstat, mkdir, open, readdir, readFile, rm, symlink, writeFile} from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import {execa} from 'execa';
import {afterEach, describe, expect, it} from 'vitest';
import {jsonLines, jsonOf, snapdeck} from '../helpers/cli.js';
import {labWithVm, qemuImg, tempDir} from '../helpers/lab.js';

/** A VM with a full and an incremental point in a repository, driven through the real binary. */
async function backedUp() {
	const lab = await labWithVm();
	const repo = path.join(await tempDir(), 'repo');
	const env = {SNAPDECK_CONNECT: `local:${lab.root}`, SNAPDECK_REPO: repo};
	const run = (...args: string[]) => snapdeck(args, env);
	await lab.write(0x41, 1);
	const full = jsonLines(await run('backup', 'vm1', '--json')).at(-1)!['point'] as {id: string};
	await lab.write(0x42, 2);
	const incremental = jsonLines(await run('backup', 'vm1', '--json')).at(-1)!['point'] as {id: string};
	const manifestFile = path.join(repo, 'vm1', 'manifest.json');
	const manifest = async () =>
		JSON.parse(await readFile(manifestFile, 'utf8')) as {
			points: Array<{id: string; files: Array<{file: string; backing: string | null}>}>;
		};
	return {lab, repo, run, full: full.id, incremental: incremental.id, manifestFile, manifest};
}

describe('a manifest that names files outside the repository', () => {
	it.each([
		['an absolute path', (victim: string) => victim],
		['a path that climbs out with ../', (victim: string) => path.relative('/x/y/z', victim).replace(/^/, '../../')],
	])('%s: every command refuses it, and the file it names is untouched', async (_kind, name) => {
		const {repo, run, manifestFile, manifest} = await backedUp();
		const victim = path.join(await tempDir(), 'victim.qcow2');
		await qemuImg.create(victim, {size: 1 << 20});
		const before = await readFile(victim);
		const edited = await manifest();
		edited.points[0]!.files[0]!.file = name(victim);
		await writeFile(manifestFile, JSON.stringify(edited));
		for (const args of [
			['prune', 'vm1', '--keep-last', '1', '--yes'],
			['restore', 'vm1', '--point', edited.points[0]!.id, '--to', path.join(repo, 'r.qcow2')],
			['verify', 'vm1'],
			['backups', 'vm1'],
		]) {
			const result = await run(...args);
			expect(result.exitCode, args.join(' ')).toBe(1);
			expect(result.stderr, args.join(' ')).toContain(
				"must be DISK/ID.qcow2, inside the VM's folder of the repository",
			);
		}
		expect(await readFile(victim)).toEqual(before);
	});

	it('a point file whose header was changed to back onto another file: verify names it; restore and prune refuse', async () => {
		const {lab, run, repo, incremental} = await backedUp();
		const secret = path.join(await tempDir(), 'secret.raw');
		await writeFile(secret, 'secret'.repeat(100), {mode: 0o600});
		const file = path.join(repo, 'vm1', 'vda', `${incremental}.qcow2`);
		await execa('qemu-img', ['rebase', '-u', '-f', 'qcow2', '-F', 'raw', '-b', secret, file]);
		const verify = await run('verify', 'vm1', '--point', incremental);
		expect(verify.exitCode).toBe(1);
		expect(verify.stdout).toContain(`vda/${incremental}.qcow2 is backed by ${secret} in its header`);
		const target = path.join(await tempDir(), 'r.qcow2');
		const restore = await run('restore', 'vm1', '--point', incremental, '--to', target, '--force');
		expect([restore.exitCode, restore.stderr]).toEqual([1, expect.stringContaining('is backed by')]);
		expect(await readdir(path.dirname(target))).toEqual([]);
		const prune = await run('prune', 'vm1', '--keep-last', '1', '--yes');
		expect([prune.exitCode, prune.stderr]).toEqual([1, expect.stringContaining('cannot prune the backups of vm1')]);
		// Nor does anything else that hands the point to QEMU or libguestfs: a boot test, an instant restore, a look at its files.
		const {sessionPorts} = await import('../../source/service/session-ports.js');
		const service = sessionPorts(lab.hypervisor, {repository: repo});
		await expect(service.bootTest('vm1', {point: incremental, command: 'test'})).rejects.toThrow(
			`cannot boot point ${incremental}: vda/${incremental}.qcow2 is backed by ${secret}`,
		);
		await expect(service.restoreInstant('vm1', {point: incremental, as: 'vm9', command: 'test'})).rejects.toThrow(
			`cannot restore point ${incremental}: vda/${incremental}.qcow2 is backed by`,
		);
		await expect(service.listFiles('vm1', {point: incremental, path: '/', command: 'test'})).rejects.toThrow(
			`cannot read point ${incremental}: vda/${incremental}.qcow2 is backed by`,
		);
		expect(await readdir(lab.root)).toEqual(['vm1']);
		expect(await lab.reads(0x42, 2)).toBe(true);
	});
});

describe('a point that failed its last verification', () => {
	it('is not restored (nor one built on it) unless --force, and says why', async () => {
		const {run, repo, full, incremental} = await backedUp();
		const handle = await open(path.join(repo, 'vm1', 'vda', `${full}.qcow2`), 'r+');
		const stat = await handle.stat();
		await handle.write(Buffer.from([0xff]), 0, 1, stat.size - 4096 + 17);
		await handle.close();
		expect((await run('verify', 'vm1')).exitCode).toBe(1);
		for (const point of [full, incremental]) {
			const target = path.join(await tempDir(), 'r.qcow2');
			const refused = await run('restore', 'vm1', '--point', point, '--to', target);
			expect(refused.exitCode).toBe(1);
			expect(refused.stderr).toContain(`point ${point} of vm1 failed its last verification`);
			expect(refused.stderr).toContain('--force');
			expect(await readdir(path.dirname(target))).toEqual([]);
			expect((await run('restore', 'vm1', '--point', point, '--to', target, '--force')).exitCode).toBe(0);
		}
	});
});

describe('a repository that cannot be created', () => {
	it('fails at once with what is wrong, and leaves no lock on the VM', async () => {
		const lab = await labWithVm();
		const started = Date.now();
		const result = await snapdeck([
			'backup',
			'vm1',
			'--connect',
			`local:${lab.root}`,
			'--repo',
			'/proc/snapdeck-cannot-be/repo',
		]);
		expect(result.exitCode).toBe(1);
		expect(result.stderr).toContain('cannot create the backup repository /proc/snapdeck-cannot-be/repo/vm1');
		expect(result.stderr).toContain('choose a place on a writable file system');
		expect(Date.now() - started).toBeLessThan(30_000); // it used to spin until killed
		expect(await readdir(path.join(lab.folder, '.snapdeck')).catch(() => [])).not.toContain('lock');
	});
});

const mounts: string[] = [];
afterEach(async () => {
	for (const mount of mounts.splice(0)) await execa('umount', ['-l', mount], {reject: false});
});

/** A VM and a repository on a tmpfs of `size` of its own (unmounted after the test). */
async function onTmpfs(size: string) {
	const lab = await labWithVm();
	const repo = path.join(await tempDir(), 'repo');
	await execa('mkdir', ['-p', repo]);
	await execa('mount', ['-t', 'tmpfs', '-o', `size=${size}`, 'tmpfs', repo]);
	mounts.push(repo);
	return {lab, repo, env: {SNAPDECK_CONNECT: `local:${lab.root}`, SNAPDECK_REPO: repo}};
}

describe.runIf(os.userInfo().uid === 0)('a full and a read-only repository (tmpfs)', () => {
	it('a full one: verify still runs, and says it could not record its verdict; a backup says to free space', async () => {
		const {lab, repo, env} = await onTmpfs('16m');
		await lab.write(0x51, 1);
		expect((await snapdeck(['backup', 'vm1'], env)).exitCode).toBe(0);
		// Fill it to the last byte.
		await execa('sh', ['-c', `cat /dev/zero > ${path.join(repo, 'filler')}`], {reject: false});
		const verify = await snapdeck(['verify', 'vm1', '--json'], env);
		expect(verify.stderr).not.toContain('ENOSPC: no such');
		expect(verify.exitCode, verify.stderr).toBe(0);
		expect((jsonOf(verify)['points'] as Array<{ok: boolean}>).map(point => point.ok)).toEqual([true]);
		expect(verify.stderr).toContain('no space is left');
		await lab.write(0x52, 2);
		const backup = await snapdeck(['backup', 'vm1'], env);
		expect(backup.exitCode).toBe(1);
		expect(backup.stderr).toContain('no space is left on the device');
		expect(backup.stderr).toMatch(/free some space|prune/);
	});

	it('a full one: prune gives back the reserve the repository keeps, removes whole chains, and backups work again', async () => {
		const {lab, repo, env} = await onTmpfs('24m');
		await lab.write(0x71, 1);
		expect((await snapdeck(['backup', 'vm1', '--full'], env)).exitCode).toBe(0);
		await lab.write(0x72, 2);
		expect((await snapdeck(['backup', 'vm1'], env)).exitCode).toBe(0);
		await lab.write(0x73, 3);
		expect((await snapdeck(['backup', 'vm1', '--full'], env)).exitCode).toBe(0);
		expect(await readdir(repo)).toContain('.snapdeck-reserve');
		await execa('sh', ['-c', `cat /dev/zero > ${path.join(repo, 'filler')}`], {reject: false});
		const ids = (jsonOf(await snapdeck(['backups', 'vm1', '--json'], env))['points'] as Array<{id: string}>).map(
			point => point.id,
		);
		const pruned = await snapdeck(['prune', 'vm1', '--keep-last', '1', '--yes'], env);
		expect(pruned.exitCode, pruned.stderr).toBe(0);
		expect(pruned.stderr).toContain('gave back the 1.0 MiB it keeps in reserve');
		expect(
			(jsonOf(await snapdeck(['backups', 'vm1', '--json'], env))['points'] as Array<{id: string}>).map(
				point => point.id,
			),
		).toEqual(ids.slice(2));
		expect((await snapdeck(['verify', 'vm1'], env)).exitCode).toBe(0);
		await lab.write(0x74, 4);
		expect((await snapdeck(['backup', 'vm1'], env)).exitCode).toBe(0);
	});

	it('a read-only one: verify and backups work, a backup says the file system is read-only', async () => {
		const lab = await labWithVm();
		const repo = path.join(await tempDir(), 'repo');
		const env = {SNAPDECK_CONNECT: `local:${lab.root}`, SNAPDECK_REPO: repo};
		await lab.write(0x61, 1);
		expect((await snapdeck(['backup', 'vm1'], env)).exitCode).toBe(0);
		await execa('mount', ['--bind', repo, repo]);
		mounts.push(repo);
		await execa('mount', ['-o', 'remount,bind,ro', repo]);
		expect((await snapdeck(['backups', 'vm1'], env)).exitCode).toBe(0);
		const verify = await snapdeck(['verify', 'vm1'], env);
		expect(verify.exitCode, verify.stderr).toBe(0);
		expect(verify.stderr).toContain('read-only');
		const backup = await snapdeck(['backup', 'vm1'], env);
		expect(backup.exitCode).toBe(1);
		expect(backup.stderr).toContain('the file system is read-only');
	});
});

describe("links in a VM's folder of a repository (planted by whoever else writes it)", () => {
	it('a backup and a prune remove, write and chmod nothing through them: not the folder itself, not archive/, boot/, .snapdeck/boot/ or kit/', async () => {
		const {repo, run} = await backedUp();
		const vmDir = path.join(repo, 'vm1');
		// What the links lead to: a folder of VM images and ordinary folders of the host.
		const outside = await tempDir();
		const images = path.join(outside, 'libvirt');
		await mkdir(path.join(images, 'images'), {recursive: true, mode: 0o755});
		await qemuImg.create(path.join(images, 'images', 'prod.qcow2'), {size: 1 << 20});
		const plain = path.join(outside, 'etc');
		await mkdir(plain, {mode: 0o755});
		await writeFile(path.join(plain, 'passwd'), 'keep me');
		const untouched = async () => {
			expect(await readdir(path.join(images, 'images'))).toEqual(['prod.qcow2']);
			expect(await readdir(plain)).toEqual(['passwd']);
			expect((await lstat(images)).mode & 0o777).toBe(0o755);
		};
		// The VM's whole folder a link (a repository where vm2 has never been backed up): nothing is made there.
		await symlink(images, path.join(repo, 'vm2'));
		const other = await labWithVm('vm2');
		const backup2 = await snapdeck(['backup', 'vm2', '--yes'], {
			SNAPDECK_CONNECT: `local:${other.root}`,
			SNAPDECK_REPO: repo,
		});
		expect(backup2.exitCode).toBe(1);
		expect(backup2.stderr).toContain('symbolic link');
		await untouched();
		// One of the folders whose entries are swept: each refused, its target untouched.
		for (const folder of ['archive', 'boot', path.join('.snapdeck', 'boot'), 'kit']) {
			const at = path.join(vmDir, folder);
			await rm(at, {recursive: true, force: true});
			await symlink(plain, at);
			for (const args of [
				['backup', 'vm1', '--yes'],
				['prune', 'vm1', '--keep-last', '1', '--yes'],
			]) {
				const result = await run(...args);
				expect(result.stderr, `${folder}: ${args.join(' ')}`).toContain('symbolic link');
				await untouched();
			}
			await rm(at);
		}
	});
});
