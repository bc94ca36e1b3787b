import {access} from 'node:fs/promises';
import path from 'node:path';
import {describe, expect, it} from 'vitest';
import {labWithVm} from '../helpers/lab.js';

const A = 0xaa;
const B = 0xbb;
const C = 0xcc;
const exists = (file: string) =>
	access(file).then(
		() => true,
		() => false,
	);

describe('local adapter on real qcow2 images: what the guest reads', () => {
	it('external: write A, snapshot s1, write B, revert to s1 reads A; merging s1 away still reads A', async () => {
		const lab = await labWithVm();
		await lab.write(A, 1);
		await lab.take('s1');
		await lab.write(B, 1);
		expect(await lab.reads(B, 1)).toBe(true);

		await lab.revert('s1');
		expect(await lab.reads(A, 1)).toBe(true);
		expect(await lab.reads(B, 1)).toBe(false);

		await lab.merge('s1');
		expect(await lab.reads(A, 1)).toBe(true);
		expect((await lab.vmFile()).snapshots).toEqual([]);
		expect(await lab.imagesHealthy()).toBe(true);
	});

	it('across a branch: both branches keep their data when the snapshot they share is merged', async () => {
		const lab = await labWithVm();
		await lab.write(A, 0);
		await lab.take('base');
		await lab.write(B, 1);
		await lab.take('left');
		await lab.revert('base');
		await lab.write(C, 1);
		await lab.take('right');
		// Tree: base -> {left, right}; merging base streams its data into both branches.
		const plan = await lab.merge('base');
		expect(plan.plan.steps.filter(step => step.op === 'rebase')).toHaveLength(2);

		await lab.revert('left');
		expect(await lab.reads(A, 0)).toBe(true);
		expect(await lab.reads(B, 1)).toBe(true);
		await lab.revert('right');
		expect(await lab.reads(A, 0)).toBe(true);
		expect(await lab.reads(C, 1)).toBe(true);
		expect(await lab.imagesHealthy()).toBe(true);
	});

	it('revert leaves the other branch in the tree and its image on disk', async () => {
		const lab = await labWithVm();
		await lab.write(A, 0);
		await lab.take('s1');
		await lab.write(B, 0);
		await lab.take('s2');
		await lab.revert('s1');
		const file = await lab.vmFile();
		expect(file.snapshots.map(snapshot => snapshot.name)).toEqual(['s1', 's2']);
		const s2Image = file.snapshots.find(snapshot => snapshot.name === 's2')!.disks[0]!.file;
		expect(await exists(path.join(lab.folder, s2Image))).toBe(true);
		await lab.revert('s2');
		expect(await lab.reads(B, 0)).toBe(true);
	});

	it('internal: write A, snapshot, write B, revert reads A; merge (delete) keeps the present data', async () => {
		const lab = await labWithVm();
		await lab.write(A, 1);
		await lab.take('i1', 'internal');
		await lab.write(B, 1);
		await lab.revert('i1');
		expect(await lab.reads(A, 1)).toBe(true);
		await lab.write(C, 2);
		await lab.merge('i1');
		expect(await lab.reads(A, 1)).toBe(true);
		expect(await lab.reads(C, 2)).toBe(true);
		expect((await lab.vmFile()).snapshots).toEqual([]);
	});

	it('mixed: an internal snapshot under an external one reverts by copy, and the external one still reads its data', async () => {
		const lab = await labWithVm();
		await lab.write(A, 1);
		await lab.take('i1', 'internal');
		await lab.write(B, 1);
		await lab.take('e1', 'external');
		await lab.write(C, 1);

		const {plan} = await lab.revert('i1');
		expect(plan.steps.map(step => step.op)).toContain('copy-internal');
		expect(await lab.reads(A, 1)).toBe(true);

		await lab.revert('e1');
		expect(await lab.reads(B, 1)).toBe(true);
		await lab.revert('i1');
		expect(await lab.reads(A, 1)).toBe(true);
		expect(await lab.imagesHealthy()).toBe(true);
	});

	it('mixed: merging an external snapshot never orphans an internal one in its image', async () => {
		const lab = await labWithVm();
		await lab.write(A, 1);
		await lab.take('i1', 'internal');
		await lab.write(B, 1);
		await lab.take('e1', 'external');
		await lab.write(C, 1);
		const {plan} = await lab.merge('e1');
		expect(plan.steps[0]!.op).toBe('commit');
		expect(await lab.reads(C, 1)).toBe(true);
		await lab.revert('i1');
		expect(await lab.reads(A, 1)).toBe(true);
	});

	it('mixed: refuses to merge where an internal snapshot lives in the child, and changes nothing', async () => {
		const lab = await labWithVm();
		await lab.write(A, 1);
		await lab.take('e1');
		await lab.write(B, 1);
		await lab.take('i2', 'internal');
		const before = JSON.stringify(await lab.vmFile());
		await expect(lab.merge('e1')).rejects.toThrow(/holds internal snapshots i2/);
		expect(JSON.stringify(await lab.vmFile())).toBe(before);
		await lab.revert('e1');
		expect(await lab.reads(A, 1)).toBe(true);
	});

	it('two disks: one snapshot covers both, and revert and merge bring both back', async () => {
		const lab = await labWithVm('db2', ['vda', 'vdb']);
		await lab.write(A, 1, 'vda');
		await lab.write(C, 1, 'vdb');
		await lab.take('s1');
		expect((await lab.vmFile()).snapshots[0]!.disks.map(disk => disk.target)).toEqual(['vda', 'vdb']);
		await lab.write(B, 1, 'vda');
		await lab.write(B, 1, 'vdb');
		await lab.revert('s1');
		expect(await lab.reads(A, 1, 'vda')).toBe(true);
		expect(await lab.reads(C, 1, 'vdb')).toBe(true);
		await lab.merge('s1');
		expect(await lab.reads(A, 1, 'vda')).toBe(true);
		expect(await lab.reads(C, 1, 'vdb')).toBe(true);
		await lab.take('i1', 'internal');
		await lab.write(B, 1, 'vdb');
		await lab.revert('i1');
		expect(await lab.reads(C, 1, 'vdb')).toBe(true);
	});
});
