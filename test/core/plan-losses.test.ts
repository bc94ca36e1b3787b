import {describe, expect, it} from 'vitest';
import {planLosses} from '../../source/core/describe.js';
import {planMerge, planRevert, planTake} from '../../source/core/planner.js';
import {planPrune} from '../../source/core/prune-plan.js';
import {backupPoint, image, snapshot, vmState} from './fixtures.js';

// base <- top (active), snapshot s1 froze base.
const state = vmState(
	'top.qcow2',
	's1',
	[snapshot('s1', null, 'base.qcow2')],
	[image('base.qcow2', null), image('top.qcow2', 'base.qcow2')],
);

describe('what a plan loses, counted (the summary pinned where its lines do not fit)', () => {
	it('a prune: the files it deletes and the disks they are of, and the points it removes', () => {
		const ids = ['20261120T120000Z', '20261121T120000Z', '20261122T120000Z', '20261123T120000Z'];
		const points = ids.map((id, index) => backupPoint(id, ids[index - 1] ?? null, 1000, ['vda', 'vdb']));
		const plan = planPrune({version: 1, vm: 'vm1', identity: null, points}, ids.slice(0, 3));
		expect(planLosses(plan)).toEqual([
			{label: 'Deletes', what: '6 files', disks: ['vda', 'vdb']},
			{label: 'Discards', what: '3 backup points', disks: []},
		]);
		expect(planLosses(planPrune({version: 1, vm: 'vm1', identity: null, points}, [ids[3]!]))).toEqual([
			{label: 'Deletes', what: '2 files', disks: ['vda', 'vdb']},
			{label: 'Discards', what: '1 backup point', disks: []},
		]);
	});

	it('a revert, a merge, a take', () => {
		expect(planLosses(planRevert(state, 's1'))).toEqual([
			{label: 'Deletes', what: '1 file', disks: ['vda']},
			{label: 'Discards', what: 'data written to 1 image', disks: []},
		]);
		expect(planLosses(planMerge(state, 's1'))).toEqual([
			{label: 'Deletes', what: '1 file', disks: ['vda']},
			{label: 'Discards', what: '1 snapshot', disks: []},
		]);
		expect(planLosses(planTake(state, {name: 's2', kind: 'external', now: new Date()}))).toEqual([]);
	});
});
