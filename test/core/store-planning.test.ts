import {describe, expect, it} from 'vitest';
import {planMerge, planRevert, planTake} from '../../source/core/planner.js';
import {QCOW2_STORES} from '../../source/core/qcow2-store-plans.js';
import type {StorePlanning} from '../../source/core/snapshot-store.js';
import * as steps from '../../source/core/steps.js';
import {image, snapshot, vmState} from './fixtures.js';

/**
 * A store of the planner's own kind, put in the external store's place: the planner asks the
 * snapshot's store what each disk's take, revert and merge are, and keeps the rest (the metadata,
 * the active image a revert discards) for every store alike.
 */
const zvols: StorePlanning = {
	kind: 'external',
	take: (_view, disk, name) => ({
		step: steps.createOverlay(disk.target, `${disk.file}@${name}`, disk.file),
		file: `${disk.file}@${name}`,
	}),
	revert: (_view, active, held) => ({
		file: `${held.file}-clone`,
		creates: [steps.createOverlay(active.target, `${held.file}-clone`, held.file)],
		applies: [],
		discards: ["the clone's origin moves"],
	}),
	merge: (_view, held) => ({
		content: [],
		deletes: [],
		warnings: [`${held.file} kept by the pool`],
		renames: [['top.qcow2', held.file]],
	}),
};
const stores = {...QCOW2_STORES, external: zvols};

describe("the planner consults the snapshot's store (core/snapshot-store.ts)", () => {
	const state = vmState(
		'top.qcow2',
		's1',
		[snapshot('s1', null, 'base.qcow2')],
		[image('base.qcow2', null), image('top.qcow2', 'base.qcow2')],
	);
	const definition = (plan: ReturnType<typeof planTake>) =>
		(
			plan.steps.find(step => step.op === 'write-definition') as Extract<
				(typeof plan.steps)[number],
				{op: 'write-definition'}
			>
		).definition;

	it("a take: the store's step per disk, and the disk on the file the store names", () => {
		const plan = planTake(state, {name: 's2', kind: 'external', now: new Date('2026-02-01T00:00:00Z')}, stores);
		expect(plan.steps.map(step => step.summary)[0]).toBe('vda: create overlay top.qcow2@s2 on top.qcow2');
		expect(definition(plan).disks).toEqual([{target: 'vda', file: 'top.qcow2@s2'}]);
	});

	it("a revert: the store's steps and losses, then the planner's own discard of the active image", () => {
		const plan = planRevert(state, 's1', stores);
		expect(plan.steps.map(step => step.op)).toEqual(['create-overlay', 'write-definition', 'delete-image']);
		expect(plan.discards[0]).toBe("the clone's origin moves");
		expect(definition(plan).disks).toEqual([{target: 'vda', file: 'base.qcow2-clone'}]);
	});

	it("a merge: the store's warnings, and its renames carried into every snapshot's disks", () => {
		const plan = planMerge({...state, definition: {...state.definition, current: 's1'}}, 's1', stores);
		expect(plan.warnings).toEqual(['base.qcow2 kept by the pool']);
		expect(definition(plan).disks).toEqual([{target: 'vda', file: 'base.qcow2'}]);
	});
});
