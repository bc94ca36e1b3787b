import {open, readdir, stat} from 'node:fs/promises';
import path from 'node:path';
import {describe, expect, it} from 'vitest';
import {pruneBackups, restoreBackup, runBackup, verifyBackups} from '../helpers/backup.js';
import {Repository} from '../../source/backup/repository.js';
import type {PlanEvent} from '../../source/core/plan.js';
import {labWithVm, MiB, qemuImg, qemuIo, tempDir} from '../helpers/lab.js';

const day = (n: number) => new Date(Date.UTC(2026, 10, n, 3));

/** A stopped VM backed up four times, a day apart, with a flat copy of its disk at each point. */
async function backedUpLab() {
	const lab = await labWithVm('vm1', ['vda'], 64);
	const repo = new Repository(await tempDir());
	const copies = await tempDir();
	const ids: string[] = [];
	const atPoint: string[] = [];
	for (const [n, [pattern, mib]] of [
		[0x10, 1],
		[0x11, 2],
		[0x12, 3],
		[0x13, 1],
	].entries()) {
		await lab.write(pattern!, mib!);
		ids.push((await runBackup(lab.hypervisor, repo, 'vm1', {mode: 'auto', command: 'test', now: day(n + 1)})).id);
		atPoint.push(path.join(copies, `${n}.qcow2`));
		await qemuImg.convert(await lab.activeFile(), atPoint.at(-1)!);
	}
	const restoresAsAt = async (index: number) => {
		const target = path.join(await tempDir(), 'restored.qcow2');
		await restoreBackup(repo, lab.hypervisor, 'vm1', {point: ids[index]!, to: target, command: 'test'});
		expect((await qemuImg.info(target))['backing-filename']).toBeUndefined();
		return qemuImg.same(target, atPoint[index]!);
	};
	return {lab, repo, ids, atPoint, restoresAsAt};
}

describe('verify, restore and prune on real point files', () => {
	it('every point restores to exactly the disk as it was; after prune, every kept point still does', async () => {
		const {lab, repo, ids, restoresAsAt} = await backedUpLab();
		expect((await repo.read('vm1')).points.map(point => point.kind)).toEqual([
			'full',
			'incremental',
			'incremental',
			'incremental',
		]);
		for (const index of [0, 1, 2, 3]) expect(await restoresAsAt(index)).toBe(true);
		expect(await restoresAsAt(0)).toBe(true);
		// A restore's progress counts the bytes it reads (the point and those under it), not the 64 MiB disk.
		const read: PlanEvent[] = [];
		await restoreBackup(repo, lab.hypervisor, 'vm1', {
			point: ids[3]!,
			to: path.join(await tempDir(), 'r.qcow2'),
			command: 'test',
			onEvent: event => read.push(event),
		});
		const chainBytes = (await repo.read('vm1')).points.reduce((sum, point) => sum + point.files[0]!.size, 0);
		expect(read.filter(event => event.type === 'progress').at(-1)).toMatchObject({bytesTotal: chainBytes, fraction: 1});
		expect(chainBytes).toBeLessThan(64 * MiB);

		const events: PlanEvent[] = [];
		const result = await pruneBackups(repo, 'vm1', {
			retention: {last: 2},
			command: 'test',
			confirm: async () => true,
			onEvent: event => events.push(event),
		});
		expect(result.remove).toEqual([ids[1], ids[0]]);
		// The hashing of the merged files shows progress in bytes read, up to all of them.
		const hashing = events.findIndex(event => event.type === 'step' && event.summary.includes('new checksums'));
		const progress = events.slice(hashing).filter(event => event.type === 'progress');
		expect(progress.length).toBeGreaterThan(0);
		expect(progress.at(-1)).toMatchObject({fraction: 1});
		expect((progress.at(-1) as {bytesTotal: number}).bytesTotal).toBeGreaterThan(MiB);
		const after = await repo.read('vm1');
		expect(after.points.map(point => [point.id, point.kind])).toEqual([
			[ids[2], 'full'],
			[ids[3], 'incremental'],
		]);
		expect(await restoresAsAt(2)).toBe(true);
		expect(await restoresAsAt(3)).toBe(true);
		// Only the kept points' files are left, and they verify (new checksums were recorded).
		const files = (await readdir(path.join(repo.vmDir('vm1'), 'vda'))).sort();
		expect(files).toEqual(after.points.map(point => path.basename(point.files[0]!.file)).sort());
		const verdicts = await verifyBackups(repo, 'vm1', {command: 'test', restoreTest: true}, lab.hypervisor);
		expect(verdicts.map(verdict => verdict.ok)).toEqual([true, true]);
		expect((await repo.read('vm1')).points.every(point => point.verified?.ok && point.verified.restoreTest)).toBe(true);
	});

	it('one flipped byte in a point file fails verify for that point and those built on it, naming the file', async () => {
		const {lab, repo, ids} = await backedUpLab();
		const victim = repo.resolve('vm1', (await repo.read('vm1')).points[2]!.files[0]!.file);
		const handle = await open(victim, 'r+');
		const offset = Math.floor((await stat(victim)).size / 2);
		const byte = Buffer.alloc(1);
		await handle.read(byte, 0, 1, offset);
		await handle.write(Buffer.from([byte[0]! ^ 0xff]), 0, 1, offset);
		await handle.close();
		const verdicts = await verifyBackups(repo, 'vm1', {command: 'test'}, lab.hypervisor);
		expect(verdicts.map(verdict => [verdict.id, verdict.ok])).toEqual([
			[ids[0], true],
			[ids[1], true],
			[ids[2], false],
			[ids[3], false],
		]);
		expect(verdicts[2]!.problems.join()).toContain(`vda/${ids[2]}.qcow2 does not match its checksum`);
		expect(verdicts[3]!.problems.join()).toContain(`which point ${ids[3]} builds on`);
		expect((await repo.read('vm1')).points[2]!.verified).toMatchObject({ok: false});
	});

	it('restores a point as a new VM beside the others, and refuses to overwrite anything', async () => {
		const {lab, repo, ids} = await backedUpLab();
		await restoreBackup(repo, lab.hypervisor, 'vm1', {point: ids[1]!, as: 'vm1-restored', command: 'test'});
		expect((await lab.hypervisor.list()).map(vm => vm.name)).toEqual(['vm1', 'vm1-restored']);
		const restored = path.join(lab.root, 'vm1-restored', 'vda.qcow2');
		expect(await qemuIo.holds(restored, 0x10, 1 * MiB, MiB)).toBe(true);
		expect(await qemuIo.holds(restored, 0x11, 2 * MiB, MiB)).toBe(true);
		expect(await qemuIo.holds(restored, 0, 3 * MiB, MiB)).toBe(true);
		await expect(
			restoreBackup(repo, lab.hypervisor, 'vm1', {point: ids[1]!, as: 'vm1-restored', command: 'test'}),
		).rejects.toThrow(/already a VM .* 'vm1-restored'/);
		await expect(
			restoreBackup(repo, lab.hypervisor, 'vm1', {point: ids[1]!, to: restored, command: 'test'}),
		).rejects.toThrow(/already exists; restore never overwrites/);
	});

	it('a cancelled backup leaves the repository exactly as it was, and the next incremental is still right', async () => {
		const lab = await labWithVm('vm1', ['vda'], 1024);
		const repo = new Repository(await tempDir());
		await lab.write(0x21, 1);
		await runBackup(lab.hypervisor, repo, 'vm1', {mode: 'full', command: 'test'});
		const before = await repo.read('vm1');
		await qemuIo.write(await lab.activeFile(), 0x22, 100 * MiB, 256 * MiB);
		const controller = new AbortController();
		const cancelled = runBackup(lab.hypervisor, repo, 'vm1', {
			mode: 'auto',
			command: 'test',
			signal: controller.signal,
			bytesPerSecond: 32 * MiB,
			onEvent: event => event.type === 'progress' && event.bytesDone > 0 && controller.abort(),
		});
		await expect(cancelled).rejects.toThrow(/was cancelled; the repository is as it was/);
		expect(await repo.read('vm1')).toEqual(before);
		expect(await readdir(path.join(repo.vmDir('vm1'), 'vda'))).toEqual([
			path.basename(before.points[0]!.files[0]!.file),
		]);
		const next = await runBackup(lab.hypervisor, repo, 'vm1', {mode: 'incremental', command: 'test'});
		expect(await qemuImg.same(repo.resolve('vm1', next.files[0]!.file), await lab.activeFile())).toBe(true);
	});
});

describe('bad luck in the repository', () => {
	it('a missing earlier point makes the next backup a full, saying which file is gone', async () => {
		const lab = await labWithVm('vm1', ['vda'], 64);
		const repo = new Repository(await tempDir());
		await lab.write(0x51, 1);
		const full = await runBackup(lab.hypervisor, repo, 'vm1', {mode: 'auto', command: 'test'});
		await lab.write(0x52, 2);
		await runBackup(lab.hypervisor, repo, 'vm1', {mode: 'auto', command: 'test'});
		const {rm} = await import('node:fs/promises');
		await rm(repo.resolve('vm1', full.files[0]!.file));
		await expect(runBackup(lab.hypervisor, repo, 'vm1', {mode: 'incremental', command: 'test'})).rejects.toThrow(
			`are missing: ${full.files[0]!.file}`,
		);
		const next = await runBackup(lab.hypervisor, repo, 'vm1', {mode: 'auto', command: 'test'});
		expect(next.kind).toBe('full');
		expect(next.reason).toContain(`are missing: ${full.files[0]!.file}`);
		expect(await qemuImg.same(repo.resolve('vm1', next.files[0]!.file), await lab.activeFile())).toBe(true);
	});
});
