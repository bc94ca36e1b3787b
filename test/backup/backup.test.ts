import {readdir, readFile} from 'node:fs/promises';
import path from 'node:path';
import {execa} from 'execa';
import {describe, expect, it} from 'vitest';
import {processAlive} from '../../source/adapters/file-checks.js';
import {runBackup, verifyBackups} from '../helpers/backup.js';
import type {PlanEvent} from '../../source/core/plan.js';
import {Repository} from '../../source/backup/repository.js';
import {labWithVm, MiB, qemuImg, tempDir} from '../helpers/lab.js';
import {runningLab} from '../helpers/live.js';

/** Bytes of guest data a qcow2 layer holds itself (depth 0), as `qemu-img map` reports them. */
async function ownDataBytes(file: string): Promise<number> {
	const {stdout} = await execa('qemu-img', ['map', '-U', '--output=json', file]);
	const extents = JSON.parse(stdout) as Array<{depth: number; data: boolean; length: number}>;
	return extents.filter(extent => extent.depth === 0 && extent.data).reduce((sum, extent) => sum + extent.length, 0);
}

/** A flat copy of what the guest sees on a disk now. */
async function snapshotOf(file: string, dir: string, name: string): Promise<string> {
	const copy = path.join(dir, name);
	await execa('qemu-img', ['convert', '-U', '-O', 'qcow2', file, copy]);
	return copy;
}

const same = async (a: string, b: string) =>
	(await execa('qemu-img', ['compare', '-U', a, b], {reject: false})).exitCode === 0;

describe('backups of a running VM (QEMU, no guest OS, 2 GiB disk)', () => {
	it('full, then an incremental holding just the 3 MiB the guest wrote; each point reads as the disk did then', async () => {
		const lab = await runningLab('live1', ['vda'], 2048);
		const repo = new Repository(await tempDir());
		const copies = await tempDir();
		await lab.guestWrite(0x11, 10, 'vda', 8);
		const full = await runBackup(lab.hypervisor, repo, 'live1', {mode: 'auto', command: 'test'});
		expect(full.kind).toBe('full');
		expect(full.reason).toMatch(/no earlier backup/);
		const atFull = await snapshotOf(await lab.activeFile(), copies, 'full.qcow2');

		await lab.guestWrite(0x22, 100, 'vda', 3);
		const incremental = await runBackup(lab.hypervisor, repo, 'live1', {mode: 'auto', command: 'test'});
		expect(incremental.kind).toBe('incremental');
		expect(incremental.parent).toBe(full.id);
		const atIncremental = await snapshotOf(await lab.activeFile(), copies, 'incremental.qcow2');
		const incrementalFile = repo.resolve('live1', incremental.files[0]!.file);
		expect(await ownDataBytes(incrementalFile)).toBe(3 * MiB);
		expect((await qemuImg.info(incrementalFile))['backing-filename']).toBe(path.basename(full.files[0]!.file));

		expect(await same(repo.resolve('live1', full.files[0]!.file), atFull)).toBe(true);
		expect(await same(incrementalFile, atIncremental)).toBe(true);
		expect(await same(incrementalFile, atFull)).toBe(false);
		const manifest = await repo.read('live1');
		expect(manifest.points.map(point => [point.kind, point.state])).toEqual([
			['full', 'complete'],
			['incremental', 'complete'],
		]);
	});
});

/** What `qemu-img check` says of a point file: its compressed clusters and the fragmentation stats. */
async function checkOf(file: string): Promise<{'compressed-clusters'?: number; 'allocated-clusters'?: number}> {
	return JSON.parse((await execa('qemu-img', ['check', '-U', '--output=json', file])).stdout) as {
		'compressed-clusters'?: number;
	};
}

describe('compressed points', () => {
	it('zstd by default, plain with compress: false; both read as the disk, and the compressed point is a fraction of the plain one', async () => {
		const lab = await labWithVm('vm1', ['vda'], 1024);
		const plainRepo = new Repository(await tempDir());
		const repo = new Repository(await tempDir());
		// 32 MiB of guest data that compresses (each MiB one repeated byte) and 4 MiB that does not.
		for (let mib = 0; mib < 32; mib++) await lab.write(0x40 + mib, mib);
		const random = path.join(await tempDir(), 'random');
		await execa('head', ['-c', String(4 * MiB), '/dev/urandom'], {stdout: {file: random}});
		await execa('qemu-io', [
			'-f',
			'qcow2',
			'-c',
			`write -s ${random} ${512 * MiB} ${4 * MiB}`,
			await lab.activeFile('vda'),
		]);
		const plain = await runBackup(lab.hypervisor, plainRepo, 'vm1', {mode: 'full', command: 'test', compress: false});
		const packed = await runBackup(lab.hypervisor, repo, 'vm1', {mode: 'full', command: 'test'});
		expect([plain.compression, packed.compression]).toEqual(['none', 'zstd']);
		const plainFile = plainRepo.resolve('vm1', plain.files[0]!.file);
		const packedFile = repo.resolve('vm1', packed.files[0]!.file);
		expect((await qemuImg.info(packedFile))['format-specific']?.data['compression-type']).toBe('zstd');
		expect((await checkOf(packedFile))['compressed-clusters']).toBeGreaterThan(0);
		expect((await checkOf(plainFile))['compressed-clusters'] ?? 0).toBe(0);
		expect(await same(packedFile, plainFile)).toBe(true);
		expect(await same(packedFile, await lab.activeFile('vda'))).toBe(true);
		// 36 MiB plain; the 32 compressible MiB shrink to almost nothing, the random 4 MiB stay.
		expect(plain.files[0]!.size).toBeGreaterThan(36 * MiB);
		expect(packed.files[0]!.size).toBeLessThan(6 * MiB);

		// An incremental over a compressed point is compressed too, and holds just what changed.
		for (let mib = 100; mib < 104; mib++) await lab.write(0x61, mib);
		const incremental = await runBackup(lab.hypervisor, repo, 'vm1', {mode: 'incremental', command: 'test'});
		const incrementalFile = repo.resolve('vm1', incremental.files[0]!.file);
		expect(await ownDataBytes(incrementalFile)).toBe(4 * MiB);
		expect(incremental.files[0]!.size).toBeLessThan(1 * MiB);
		expect(await same(incrementalFile, await lab.activeFile('vda'))).toBe(true);
	});
});

describe('verify shows its progress', () => {
	it('a step, then bytes read growing to every file of the chain plus what the restore test writes, then done', async () => {
		const lab = await labWithVm('vm1', ['vda'], 64);
		const repo = new Repository(await tempDir());
		await lab.write(0x21, 1);
		await runBackup(lab.hypervisor, repo, 'vm1', {mode: 'auto', command: 'test'});
		await lab.write(0x22, 2);
		const incremental = await runBackup(lab.hypervisor, repo, 'vm1', {mode: 'auto', command: 'test'});
		const events: PlanEvent[] = [];
		const [verdict] = await verifyBackups(
			repo,
			'vm1',
			{point: incremental.id, restoreTest: true, command: 'test', onEvent: event => events.push(event)},
			lab.hypervisor,
		);
		expect(verdict!.ok).toBe(true);
		const manifest = await repo.read('vm1');
		const expected =
			manifest.points.reduce((sum, point) => sum + point.files[0]!.size, 0) + incremental.files[0]!.virtualSize;
		expect(events[0]).toMatchObject({
			type: 'step',
			summary: expect.stringContaining(`verify point ${incremental.id} of vm1`),
		});
		expect(events.at(-1)).toEqual({type: 'done', index: 0});
		const progress = events.filter(event => event.type === 'progress');
		expect(progress.length).toBeGreaterThan(2);
		expect(progress.every((event, index) => index === 0 || event.bytesDone >= progress[index - 1]!.bytesDone)).toBe(
			true,
		);
		expect(progress.at(-1)).toMatchObject({bytesDone: expected, bytesTotal: expected, fraction: 1});
	});
});

describe('backups of a stopped VM (qemu-storage-daemon)', () => {
	it('full and incremental of two disks; the bitmap lives on in the image between runs', async () => {
		const lab = await labWithVm('vm1', ['vda', 'vdb'], 2048);
		const repo = new Repository(await tempDir());
		const copies = await tempDir();
		await lab.write(0x31, 5, 'vda');
		await lab.write(0x32, 7, 'vdb');
		const full = await runBackup(lab.hypervisor, repo, 'vm1', {mode: 'auto', command: 'test'});
		const fullCopies = [
			await snapshotOf(await lab.activeFile('vda'), copies, 'a0'),
			await snapshotOf(await lab.activeFile('vdb'), copies, 'b0'),
		];
		expect(
			(await qemuImg.info(await lab.activeFile('vda')))['format-specific']?.data.bitmaps?.map(bitmap => bitmap.name),
		).toEqual([full.bitmap]);

		for (let mib = 200; mib < 203; mib++) await lab.write(0x41, mib, 'vdb');
		const incremental = await runBackup(lab.hypervisor, repo, 'vm1', {mode: 'incremental', command: 'test'});
		const byDisk = Object.fromEntries(incremental.files.map(file => [file.disk, repo.resolve('vm1', file.file)]));
		expect(await ownDataBytes(byDisk['vda']!)).toBe(0);
		expect(await ownDataBytes(byDisk['vdb']!)).toBe(3 * MiB);
		expect(await same(repo.resolve('vm1', full.files[0]!.file), fullCopies[0]!)).toBe(true);
		expect(await same(repo.resolve('vm1', full.files[1]!.file), fullCopies[1]!)).toBe(true);
		expect(await same(byDisk['vdb']!, await lab.activeFile('vdb'))).toBe(true);
		expect(await same(byDisk['vdb']!, fullCopies[1]!)).toBe(false);
		// Only the newest point's bitmap is kept.
		expect(
			(await qemuImg.info(await lab.activeFile('vdb')))['format-specific']?.data.bitmaps?.map(bitmap => bitmap.name),
		).toEqual([incremental.bitmap]);
	});
});

describe('a VM that stops in the middle of its backup', () => {
	it('fails the run with a clear message, keeps the repository as it was, and the next backup is a full saying why', async () => {
		const lab = await runningLab('live2', ['vda'], 2048);
		const repo = new Repository(await tempDir());
		await lab.guestWrite(0x11, 1);
		const full = await runBackup(lab.hypervisor, repo, 'live2', {mode: 'auto', command: 'test'});
		await lab.guestWrite(0x22, 100, 'vda', 512);
		const before = await repo.read('live2');
		const pid = Number((await readFile(path.join(lab.folder, '.snapdeck', 'qemu.pid'), 'utf8')).trim());
		let killed = false;
		const run = runBackup(lab.hypervisor, repo, 'live2', {
			mode: 'auto',
			command: 'test',
			bytesPerSecond: 32 * MiB,
			onEvent: event => {
				if (killed || event.type !== 'progress' || event.bytesDone === 0) return;
				killed = true;
				process.kill(pid, 'SIGKILL');
			},
		});
		await expect(run).rejects.toThrow(/backup of live2 failed; the repository is as it was: .*(closed|stopped)/);
		expect(killed).toBe(true);
		expect(await repo.read('live2')).toEqual(before);
		expect(await readdir(path.join(repo.vmDir('live2'), 'vda'))).toEqual([path.basename(full.files[0]!.file)]);
		// SIGKILL is delivered at once, but QEMU takes a moment to be gone: wait for it, then look.
		for (let waited = 0; ((await processAlive(pid)) || (await lab.isRunning())) && waited < 10_000; waited += 50)
			await new Promise(resolve => setTimeout(resolve, 50));
		expect(await lab.isRunning()).toBe(false);
		// QEMU died with the bitmap open: it cannot be trusted, so the next backup copies everything.
		const next = await runBackup(lab.hypervisor, repo, 'live2', {mode: 'auto', command: 'test'});
		expect(next.kind).toBe('full');
		expect(next.reason).toMatch(/inconsistent|no dirty bitmap/);
		expect(await qemuImg.same(repo.resolve('live2', next.files[0]!.file), await lab.activeFile())).toBe(true);
	});
});

/** A running or stopped 256 MiB VM with data at 1 MiB and a first (full) backup of it. */
async function backedUpOnce(running: boolean) {
	const lab = running ? await runningLab('live3', ['vda'], 256) : await labWithVm('vm3', ['vda'], 256);
	const name = running ? 'live3' : 'vm3';
	const write = (pattern: number, mib: number) =>
		running ? (lab as Awaited<ReturnType<typeof runningLab>>).guestWrite(pattern, mib) : lab.write(pattern, mib);
	const repo = new Repository(await tempDir());
	await write(0x11, 1);
	await runBackup(lab.hypervisor, repo, name, {mode: 'auto', command: 'test'});
	return {lab, name, write, repo};
}

describe('backups after snapshots are merged or reverted: the bitmap must not miss what moved', () => {
	for (const [running, change] of [
		[false, 'merge'],
		[true, 'merge'],
		[false, 'revert'],
	] as const) {
		it(`${running ? 'running' : 'stopped'} VM: backup, snapshot, write, ${change} the snapshot, back up again`, async () => {
			const {lab, name, write, repo} = await backedUpOnce(running);
			await write(0x12, 2);
			await lab.take('s1');
			await write(0x13, 3);
			if (change === 'merge') await lab.merge('s1');
			else await lab.revert('s1');
			await write(0x14, 4);
			const next = await runBackup(lab.hypervisor, repo, name, {mode: 'auto', command: 'test'});
			const copy = await snapshotOf(await lab.activeFile(), await tempDir(), 'now.qcow2');
			// Whatever kind it chose, the point must read exactly as the disk.
			expect(await same(repo.resolve(name, next.files[0]!.file), copy), `${next.kind} backup ${next.reason}`).toBe(
				true,
			);
		});
	}
});

describe('a snapshot between two backups keeps the next one incremental', () => {
	for (const running of [false, true]) {
		it(`${running ? 'running' : 'stopped'} VM: the bitmap goes on in the new overlay, and the incremental holds what changed on both sides of the snapshot`, async () => {
			const {lab, name, write, repo} = await backedUpOnce(running);
			await write(0x12, 10);
			await lab.take('s1');
			await write(0x13, 20);
			const next = await runBackup(lab.hypervisor, repo, name, {mode: 'auto', command: 'test'});
			expect(next.kind, next.reason).toBe('incremental');
			const file = repo.resolve(name, next.files[0]!.file);
			expect(await ownDataBytes(file)).toBe(2 * MiB);
			expect(await same(file, await snapshotOf(await lab.activeFile(), await tempDir(), 'now.qcow2'))).toBe(true);
		});
	}
});
