import {describe, expect, it} from 'vitest';
import type {BackupPoint, Manifest} from '../../source/core/backup-manifest.js';
import {chooseSnapshot} from '../../source/core/offsite-claims.js';
import {
	parseListing,
	parseRemoteManifest,
	snapshotProblems,
	type SnapshotListing,
} from '../../source/core/offsite-contents.js';
import {pointTime, type RemotePoint} from '../../source/core/offsite-model.js';
import {backupPoint} from './fixtures.js';

/** The forgeries of a snapshot's contents that need no restic to tell: each refused with the words an operator reads. */
const id = '20261201T030000Z';
const point: BackupPoint = {...backupPoint(id, null, 1 << 20), createdAt: pointTime(id), bitmap: null};
const manifest: Manifest = {version: 1, vm: 'vm1', identity: null, points: [point]};
const remote: RemotePoint = {
	snapshot: 'b'.repeat(64),
	id,
	kind: 'full',
	parent: null,
	disks: ['vda'],
	createdAt: pointTime(id),
	copiedAt: '2026-12-01T03:00:05Z',
	host: 'h',
	duplicate: false,
};
const listing = (extra: Record<string, {type: string; size?: number}> = {}): SnapshotListing => {
	const nodes = {
		'/manifest.json': {type: 'file', size: 900},
		'/vda': {type: 'dir'},
		[`/vda/${id}.qcow2`]: {type: 'file', size: 1 << 20},
		'/FORMAT': {type: 'file', size: 20},
		...extra,
	};
	const text = [
		JSON.stringify({struct_type: 'snapshot', id: remote.snapshot}),
		...Object.entries(nodes).map(([path, node]) => JSON.stringify({struct_type: 'node', path, ...node})),
	].join('\n');
	return parseListing(text) as SnapshotListing;
};

describe('a snapshot read as hostile', () => {
	it('a copy as snapdeck makes it has no problem', () => {
		expect(snapshotProblems(manifest, 'vm1', remote, listing())).toEqual([]);
	});

	it.each([
		[
			'a file one byte longer than its manifest says',
			manifest,
			listing({[`/vda/${id}.qcow2`]: {type: 'file', size: (1 << 20) + 1}}),
			`vda/${id}.qcow2 is 1048577 bytes in snapshot bbbbbbbb, and its manifest says 1048576`,
		],
		['a manifest of another VM', {...manifest, vm: 'vm2'}, listing(), 'its manifest is of VM vm2, not of vm1'],
		[
			'points beyond the chain',
			{
				...manifest,
				points: [
					point,
					{
						...point,
						id: '20990101T000000Z',
						kind: 'incremental',
						parent: id,
						files: [{...point.files[0]!, file: 'vda/20990101T000000Z.qcow2', backing: `vda/${id}.qcow2`}],
					},
				],
			} as Manifest,
			listing(),
			'names points 20990101T000000Z beyond the chain',
		],
		[
			"the point's file missing",
			manifest,
			listing({[`/vda/${id}.qcow2`]: {type: 'dir'}}),
			'as a link or device, not a file',
		],
		[
			'a 3 GiB file and a link beside the point',
			manifest,
			listing({'/extra/big.raw': {type: 'file', size: 3 * 1024 ** 3}, '/vda/hostname': {type: 'symlink'}}),
			'holds what no copy of point 20261201T030000Z does: extra/big.raw (3221225472 bytes), vda/hostname (symlink)',
		],
	])('%s', (_name, forged, entries, expected) => {
		expect(snapshotProblems(forged, 'vm1', remote, entries).join('; ')).toContain(expected);
	});

	it("a manifest that is not JSON, or names a backing outside the VM's folder, or a listing that is not restic's", () => {
		expect((parseRemoteManifest('x'.repeat(100)) as Error).message).toMatch(/^its manifest cannot be read/);
		const outside = {...manifest, points: [{...point, files: [{...point.files[0]!, backing: '../../etc/base.qcow2'}]}]};
		expect((parseRemoteManifest(JSON.stringify(outside)) as Error).message).toMatch(
			/^its manifest is not one snapdeck wrote: .*backing/,
		);
		expect(parseListing('{"struct_type":"node","path":"relative","type":"file"}')).toBeInstanceOf(Error);
	});

	it('two claims and no record: refused with duplicate-point, both listed; --snapshot chooses', () => {
		const forged = {...remote, snapshot: 'c'.repeat(64), host: 'forger', duplicate: true};
		const claims = [{...remote, duplicate: true}, forged];
		const where = {vm: 'vm1', label: 'usb', target: 'usb'};
		expect(() => chooseSnapshot(claims, where, null)).toThrow(
			expect.objectContaining({
				code: 'duplicate-point',
				message: expect.stringContaining(`${'c'.repeat(64)} (copied 2026-12-01 03:00:05 by forger)`),
			}),
		);
		expect(chooseSnapshot(claims, where, null, 'cccccccc').chosen).toBe(forged);
		const mine = {snapshots: new Set([remote.snapshot]), points: new Set([id]), legacy: null};
		expect(chooseSnapshot(claims, where, mine)).toMatchObject({
			chosen: claims[0],
			ignored: [{point: forged, why: 'not a copy this host made: ignored'}],
		});
	});
});
