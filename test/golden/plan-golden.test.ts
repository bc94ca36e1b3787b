import {describe, it} from 'vitest';
import type {VmState} from '../../source/core/model.js';
import type {Plan} from '../../source/core/plan.js';
import {planMerge, planRevert, planTake} from '../../source/core/planner.js';
import {planPrune} from '../../source/core/prune-plan.js';
import {renderPlan} from '../../source/cli/render.js';
import {backupPoint, image, snapshot, vmState} from '../core/fixtures.js';
import {expectGolden} from './golden.js';

/**
 * Plans as an operator reads them before saying yes (the CLI's --dry-run text, the UI's plan
 * pager), pinned whole in test/golden/plans/: steps, files, what is discarded, cost. See golden.ts.
 */
const NOW = new Date('2026-12-01T09:30:00Z');

// base <- top (active), snapshot s1 froze base.
const oneSnapshot = (run: VmState['run'] = 'stopped', internal: {top?: string[]} = {}): VmState => ({
	...vmState(
		'top.qcow2',
		's1',
		[snapshot('s1', null, 'base.qcow2')],
		[image('base.qcow2', null, 5_000_000), image('top.qcow2', 'base.qcow2', 1_000_000, internal.top)],
	),
	run,
});

/** s1 froze base; internal i1 was taken inside top afterwards and is current. */
const internalOnTop = (): VmState => {
	const state = oneSnapshot('stopped', {top: ['i1']});
	return {
		...state,
		definition: {
			...state.definition,
			snapshots: [...state.definition.snapshots, snapshot('i1', 's1', 'top.qcow2', 'internal', 1)],
			current: 'i1',
		},
	};
};

const ids = ['20261120T120000Z', '20261121T120000Z', '20261122T120000Z', '20261123T120000Z'];
const manifest = {
	version: 1 as const,
	vm: 'vm1',
	identity: null,
	points: ids.map((id, index) => backupPoint(id, ids[index - 1] ?? null, 2_000_000, ['vda', 'vdb'])),
};

const cases: ReadonlyArray<readonly [string, () => Plan]> = [
	['take-external', () => planTake(oneSnapshot(), {name: 'pre-upgrade', kind: 'external', now: NOW})],
	['take-internal', () => planTake(oneSnapshot(), {name: 'i2', kind: 'internal', now: NOW})],
	[
		'take-memory-running',
		() => planTake(oneSnapshot('running'), {name: 'live', kind: 'external', memory: true, now: NOW}),
	],
	['revert-external', () => planRevert(oneSnapshot(), 's1')],
	['revert-running', () => planRevert(oneSnapshot('running'), 's1')],
	['revert-discards-internal-holder', () => planRevert(internalOnTop(), 's1')],
	['merge-offline', () => planMerge(oneSnapshot('stopped'), 's1')],
	['merge-live', () => planMerge(oneSnapshot('running'), 's1')],
	['merge-internal', () => planMerge(internalOnTop(), 'i1')],
	['prune-oldest-three', () => planPrune(manifest, ids.slice(0, 3))],
	['prune-middle', () => planPrune(manifest, [ids[1]!])],
];

describe('golden files: plans, rendered as text', () => {
	it.each(cases)('%s', async (name, plan) => {
		await expectGolden(`plans/${name}.txt`, renderPlan(plan()));
	});
});
