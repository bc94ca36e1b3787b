import {describe, expect, it} from 'vitest';
import {decideBackup, newPointId, type BackupPoint, type Manifest} from '../../source/core/backup-manifest.js';
import {planPrune} from '../../source/core/prune-plan.js';
import {selectRetention} from '../../source/core/retention.js';
import {backupPoint as point} from './fixtures.js';

const at = (year: number, month: number, day: number, hour = 12) => new Date(year, month - 1, day, hour).toISOString();
const points = (...dates: string[]) => dates.map((createdAt, index) => ({id: `p${index}`, createdAt}));

describe('retention, as Proxmox Backup Server counts it', () => {
	it('keep-last keeps the newest N', () => {
		const list = points(at(2026, 11, 1), at(2026, 11, 2), at(2026, 11, 3), at(2026, 11, 4), at(2026, 11, 5));
		expect(selectRetention(list, {last: 3})).toEqual({keep: ['p4', 'p3', 'p2'], remove: ['p1', 'p0']});
	});

	it('keep-daily keeps the newest point of each of the last N days', () => {
		const list = points(
			at(2026, 11, 1, 8),
			at(2026, 11, 1, 20),
			at(2026, 11, 2, 9),
			at(2026, 11, 3, 10),
			at(2026, 11, 3, 11),
		);
		expect(selectRetention(list, {daily: 2})).toEqual({keep: ['p4', 'p2'], remove: ['p3', 'p1', 'p0']});
	});

	it('a later rule skips the periods an earlier rule already covers, and reaches further back', () => {
		const list = points(
			at(2026, 11, 1, 8),
			at(2026, 11, 1, 20),
			at(2026, 11, 2, 9),
			at(2026, 11, 3, 10),
			at(2026, 11, 3, 11),
		);
		expect(selectRetention(list, {last: 1, daily: 2})).toEqual({keep: ['p4', 'p2', 'p1'], remove: ['p3', 'p0']});
	});

	it('weeks are ISO weeks: 31 December 2026 and 1 January 2027 are both in week 53 of 2026', () => {
		const list = points(at(2026, 12, 24), at(2026, 12, 31), at(2027, 1, 1));
		expect(selectRetention(list, {weekly: 1})).toEqual({keep: ['p2'], remove: ['p1', 'p0']});
		expect(selectRetention(list, {weekly: 2})).toEqual({keep: ['p2', 'p0'], remove: ['p1']});
	});

	it('monthly and yearly', () => {
		const list = points(at(2025, 6, 1), at(2025, 12, 1), at(2026, 1, 5), at(2026, 1, 20), at(2026, 3, 1));
		expect(selectRetention(list, {monthly: 2})).toEqual({keep: ['p4', 'p3'], remove: ['p2', 'p1', 'p0']});
		expect(selectRetention(list, {yearly: 5})).toEqual({keep: ['p4', 'p1'], remove: ['p3', 'p2', 'p0']});
	});

	it('no rule at all keeps everything', () => {
		expect(selectRetention(points(at(2026, 1, 1), at(2026, 1, 2)), {}).remove).toEqual([]);
	});
});

const manifest = (...list: BackupPoint[]): Manifest => ({version: 1, vm: 'vm1', identity: null, points: list});
const F = '20261101T000000Z';
const I1 = '20261102T000000Z';
const I2 = '20261103T000000Z';
const I3 = '20261104T000000Z';

describe('prune plans: every kept point stays restorable', () => {
	it("removing the full commits the small incremental above it down into the full's file", () => {
		const plan = planPrune(manifest(point(F, null, 1000), point(I1, F, 10), point(I2, I1, 20)), [F]);
		expect(plan.steps.map(step => step.op)).toEqual(['commit', 'rebase', 'write-manifest', 'delete-image']);
		expect(plan.steps[0]).toMatchObject({top: `vda/${I1}.qcow2`, base: `vda/${F}.qcow2`});
		expect(plan.steps[1]).toMatchObject({file: `vda/${I2}.qcow2`, backing: `vda/${F}.qcow2`, copy: false});
		expect(plan.steps[3]).toMatchObject({file: `vda/${I1}.qcow2`});
		const written = plan.steps[2]!.op === 'write-manifest' ? plan.steps[2]!.manifest : null;
		expect(written?.points.map(p => [p.id, p.kind, p.parent, p.files[0]!.file, p.files[0]!.backing])).toEqual([
			[I1, 'full', null, `vda/${F}.qcow2`, null],
			[I2, 'incremental', I1, `vda/${I2}.qcow2`, `vda/${F}.qcow2`],
		]);
		// I2's header now names F's file: its bytes, so its checksum, change too.
		expect(plan.steps[2]!.op === 'write-manifest' && [...plan.steps[2]!.rehash].sort()).toEqual([
			`vda/${F}.qcow2`,
			`vda/${I2}.qcow2`,
		]);
	});

	it('where the successor is larger, the removed point is streamed up into it instead', () => {
		const plan = planPrune(manifest(point(F, null, 1000), point(I1, F, 10), point(I2, I1, 500)), [I1]);
		expect(plan.steps.map(step => step.op)).toEqual(['rebase', 'write-manifest', 'delete-image']);
		expect(plan.steps[0]).toMatchObject({file: `vda/${I2}.qcow2`, backing: `vda/${F}.qcow2`, copy: true});
		expect(plan.steps[2]).toMatchObject({file: `vda/${I1}.qcow2`});
	});

	it('the newest point goes without merging; two neighbours in a row chain correctly; every disk is handled', () => {
		const list = manifest(
			point(F, null, 1000, ['vda', 'vdb']),
			point(I1, F, 10, ['vda', 'vdb']),
			point(I2, I1, 20, ['vda', 'vdb']),
			point(I3, I2, 5, ['vda', 'vdb']),
		);
		const plan = planPrune(list, [I1, I2]);
		const written = plan.steps.find(step => step.op === 'write-manifest');
		const kept = written?.op === 'write-manifest' ? written.manifest.points : [];
		expect(kept.map(p => p.id)).toEqual([F, I3]);
		expect(kept[1]!.parent).toBe(F);
		expect(kept[1]!.files.map(file => file.backing)).toEqual([`vda/${F}.qcow2`, `vdb/${F}.qcow2`]);
		const deleted = plan.steps
			.filter(step => step.op === 'delete-image')
			.map(step => (step.op === 'delete-image' ? step.file : ''));
		// I1 is streamed up into the larger I2; then I3, the smaller, is committed down into I2's file.
		expect(deleted.sort()).toEqual([`vda/${I1}.qcow2`, `vda/${I3}.qcow2`, `vdb/${I1}.qcow2`, `vdb/${I3}.qcow2`]);
		expect(kept[1]!.files.map(file => file.file)).toEqual([`vda/${I2}.qcow2`, `vdb/${I2}.qcow2`]);
		expect(planPrune(list, [I3]).steps.map(step => step.op)).toEqual([
			'write-manifest',
			'delete-image',
			'delete-image',
		]);
	});
});

describe('full or incremental', () => {
	const base = manifest(point(F, null, 1000));
	const disk = (bitmaps: Array<{name: string; usable: boolean}>, virtualSize = 1 << 30) => [
		{target: 'vda', virtualSize, bitmaps},
	];
	it("incremental when the last point's bitmap is on the disk", () => {
		expect(decideBackup('auto', base, disk([{name: `b.${F}`, usable: true}]))).toMatchObject({
			kind: 'incremental',
			base: {id: F},
		});
	});
	it('full, saying why, when the bitmap is gone, inconsistent, or the disk was resized', () => {
		expect(decideBackup('auto', base, disk([])).reason).toMatch(
			/no dirty bitmap .*lost to a snapshot, a revert, a restore or a migration/,
		);
		expect(decideBackup('auto', base, disk([{name: `b.${F}`, usable: false}])).reason).toMatch(/inconsistent/);
		expect(decideBackup('auto', base, disk([{name: `b.${F}`, usable: true}], 2 << 30)).reason).toMatch(/resized/);
		expect(() => decideBackup('incremental', base, disk([]))).toThrow(
			/cannot take an incremental backup: .*no dirty bitmap/,
		);
	});
	it('point ids sort by time and never clash', () => {
		const now = new Date('2026-11-25T12:13:14.567Z');
		expect(newPointId(now, [])).toBe('20261125T121314Z');
		expect(newPointId(now, ['20261125T121314Z'])).toBe('20261125T121314Z-2');
	});
});
