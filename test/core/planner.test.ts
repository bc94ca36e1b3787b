import {describe, expect, it} from 'vitest';
import {SnapdeckError} from '../../source/core/errors.js';
import {needsTypedConfirmation} from '../../source/core/plan.js';
import {planMerge, planRevert, planTake} from '../../source/core/planner.js';
import {image, snapshot, vmState} from './fixtures.js';

const ops = (plan: {steps: readonly {op: string}[]}) => plan.steps.map(step => step.op);
const definitionOf = (plan: {steps: readonly unknown[]}) => {
	const step = plan.steps.find(candidate => (candidate as {op: string}).op === 'write-definition') as {
		definition: {
			current: string | null;
			disks: {file: string}[];
			snapshots: {name: string; parent: string | null; disks: {file: string}[]}[];
		};
	};
	return step.definition;
};
const refusal = (fn: () => unknown) => {
	try {
		fn();
	} catch (error) {
		expect(error).toBeInstanceOf(SnapdeckError);
		return error as SnapdeckError;
	}
	throw new Error('expected a refusal');
};

// base <- top (active), snapshot s1 froze base.
const oneSnapshot = (baseSize = 5_000_000, topSize = 1_000_000, internal: {base?: string[]; top?: string[]} = {}) =>
	vmState(
		'top.qcow2',
		's1',
		[snapshot('s1', null, 'base.qcow2')],
		[image('base.qcow2', null, baseSize, internal.base), image('top.qcow2', 'base.qcow2', topSize, internal.top)],
	);

describe('planTake', () => {
	it('freezes the active image under a new overlay and records the snapshot there', () => {
		const state = vmState('disk.qcow2', null, [], [image('disk.qcow2', null)]);
		const plan = planTake(state, {name: 's1', kind: 'external', now: new Date('2026-02-01T00:00:00Z')});
		expect(ops(plan)).toEqual(['create-overlay', 'write-definition']);
		expect(plan.steps[0]).toMatchObject({file: 'vda.s1.qcow2', backing: 'disk.qcow2', creates: ['vda.s1.qcow2']});
		const next = definitionOf(plan);
		expect(next.current).toBe('s1');
		expect(next.disks).toEqual([{target: 'vda', file: 'vda.s1.qcow2'}]);
		expect(next.snapshots[0]).toMatchObject({name: 's1', parent: null, disks: [{target: 'vda', file: 'disk.qcow2'}]});
	});

	it("puts the overlay beside the active image, with the adapter's prefix", () => {
		const state = {
			...vmState('/pool/web1-disk.qcow2', null, [], [image('/pool/web1-disk.qcow2', null)]),
			imagePrefix: 'vm1-',
		};
		const plan = planTake(state, {name: 's1', kind: 'external', now: new Date()});
		expect(plan.steps[0]).toMatchObject({file: '/pool/vm1-vda.s1.qcow2', backing: '/pool/web1-disk.qcow2'});
	});

	it('never reuses a file name that exists in the folder', () => {
		const state = {
			...vmState('disk.qcow2', null, [], [image('disk.qcow2', null)]),
			existingFiles: ['vda.s1.qcow2', 'vda.s1-2.qcow2'],
		};
		const plan = planTake(state, {name: 's1', kind: 'external', now: new Date()});
		expect(plan.steps[0]).toMatchObject({file: 'vda.s1-3.qcow2'});
	});

	it('takes an internal snapshot inside the active image', () => {
		const plan = planTake(oneSnapshot(), {name: 'i1', kind: 'internal', now: new Date()});
		expect(plan.steps[0]).toMatchObject({op: 'internal-create', file: 'top.qcow2', name: 'i1'});
		expect(definitionOf(plan).snapshots[1]).toMatchObject({name: 'i1', parent: 's1', disks: [{file: 'top.qcow2'}]});
	});

	it('refuses to quiesce a stopped VM, or a snapshot with memory', () => {
		expect(
			refusal(() => planTake(oneSnapshot(), {name: 'q', kind: 'external', quiesce: true, now: new Date()})).message,
		).toContain('quiescing freezes the filesystems of a running guest');
		const running = {...oneSnapshot(), run: 'running' as const};
		expect(
			refusal(() => planTake(running, {name: 'q', kind: 'external', quiesce: true, memory: true, now: new Date()}))
				.hint,
		).toContain('leave out one of --memory and --quiesce');
		expect(planTake(running, {name: 'q', kind: 'external', quiesce: true, now: new Date()}).summary).toContain(
			'quiesced',
		);
	});

	it('refuses a taken name, an odd name, and memory on a stopped VM', () => {
		expect(refusal(() => planTake(oneSnapshot(), {name: 's1', kind: 'external', now: new Date()})).kind).toBe('input');
		expect(
			refusal(() => planTake(oneSnapshot(), {name: '$(reboot)', kind: 'external', now: new Date()})).message,
		).toContain('invalid snapshot name');
		expect(
			refusal(() => planTake(oneSnapshot(), {name: 'm', kind: 'internal', memory: true, now: new Date()})).message,
		).toContain('running VM');
	});
});

describe('planRevert', () => {
	it('puts a fresh overlay on the frozen image and deletes only the discarded present state, last', () => {
		const plan = planRevert(oneSnapshot(), 's1');
		expect(ops(plan)).toEqual(['create-overlay', 'write-definition', 'delete-image']);
		expect(plan.steps[0]).toMatchObject({backing: 'base.qcow2'});
		expect(plan.steps[2]).toMatchObject({file: 'top.qcow2'});
		expect(plan.discards.join()).toContain('top.qcow2');
		expect(definitionOf(plan).disks[0]!.file).toBe(plan.steps[0]!.creates[0]);
	});

	it('says what the discarded image holds: the data written to it where measured, else its size on disk', () => {
		const discarded = (writtenBytes?: number) => {
			const state = oneSnapshot(5_000_000, 327_680);
			const top = {...state.images['top.qcow2']!, ...(writtenBytes === undefined ? {} : {writtenBytes})};
			return planRevert({...state, images: {...state.images, 'top.qcow2': top}}, 's1').discards.join();
		};
		expect(discarded(0)).toMatch(/top\.qcow2: the data of vda written since .* \(no data\)$/);
		expect(discarded(2 * 1024 * 1024)).toMatch(/\(2\.0 MiB\)$/);
		expect(discarded()).toMatch(/\(320 KiB on disk\)$/);
	});

	it('keeps an active image that holds internal snapshots, and says that what it holds since them is discarded', () => {
		const state = oneSnapshot(5, 1, {top: ['i1']});
		const plan = planRevert(
			{
				...state,
				definition: {
					...state.definition,
					snapshots: [...state.definition.snapshots, snapshot('i1', 's1', 'top.qcow2', 'internal', 1)],
					current: 'i1',
				},
			},
			's1',
		);
		expect(ops(plan)).toEqual(['create-overlay', 'write-definition']);
		// What the disk holds since 'i1' is in no snapshot: nothing reaches it after the revert, so the
		// plan says it discards it, and the VM's name must be typed.
		expect(plan.discards).toEqual([
			"top.qcow2: the data of vda written since 'i1', which no snapshot holds (the file is kept for its internal snapshots)",
		]);
		expect(needsTypedConfirmation(plan)).toBe(true);
	});

	it('rolls an internal snapshot back in place when it lives in the active image', () => {
		const state = vmState(
			'disk.qcow2',
			'i1',
			[snapshot('i1', null, 'disk.qcow2', 'internal')],
			[image('disk.qcow2', null, 1, ['i1'])],
		);
		const plan = planRevert(state, 'i1');
		expect(ops(plan)).toEqual(['internal-apply', 'write-definition']);
	});

	it('copies an internal snapshot out of an image that other snapshots are built on', () => {
		// i1 in base, then external e1 froze base: rolling base back would destroy e1.
		const state = vmState(
			'top.qcow2',
			'e1',
			[snapshot('i1', null, 'base.qcow2', 'internal'), snapshot('e1', 'i1', 'base.qcow2', 'external', 1)],
			[image('base.qcow2', null, 5, ['i1']), image('top.qcow2', 'base.qcow2', 1)],
		);
		const plan = planRevert(state, 'i1');
		expect(ops(plan)).toEqual(['copy-internal', 'write-definition', 'delete-image']);
		expect(plan.steps[0]).toMatchObject({source: 'base.qcow2', name: 'i1', backing: null});
		expect(ops(plan)).not.toContain('internal-apply');
	});

	it('names the snapshots there are when asked for one that is not', () => {
		const error = refusal(() => planRevert(oneSnapshot(), 'nope'));
		expect(error.kind).toBe('not-found');
		expect(error.hint).toContain('s1');
	});
});

describe('planMerge', () => {
	it('commits a small child down, repoints what it backed, and hands the child role to the frozen image', () => {
		const plan = planMerge(oneSnapshot(5_000_000, 1_000_000), 's1');
		expect(ops(plan)).toEqual(['commit', 'write-definition', 'delete-image']);
		expect(plan.steps[0]).toMatchObject({top: 'top.qcow2', base: 'base.qcow2'});
		expect(plan.steps[2]).toMatchObject({file: 'top.qcow2'});
		const next = definitionOf(plan);
		expect(next.disks[0]!.file).toBe('base.qcow2');
		expect(next.snapshots).toEqual([]);
		expect(next.current).toBeNull();
		expect(plan.bytes).toBe(1_000_000);
	});

	it('streams a small frozen image up into a big child', () => {
		const plan = planMerge(oneSnapshot(1_000_000, 5_000_000), 's1');
		expect(ops(plan)).toEqual(['rebase', 'write-definition', 'delete-image']);
		expect(plan.steps[0]).toMatchObject({file: 'top.qcow2', backing: null, copy: true});
		expect(plan.steps[2]).toMatchObject({file: 'base.qcow2'});
	});

	it('commits (never deletes) a frozen image that holds internal snapshots, even when streaming is cheaper', () => {
		const plan = planMerge(oneSnapshot(1_000_000, 5_000_000, {base: ['old']}), 's1');
		expect(ops(plan)).toEqual(['commit', 'write-definition', 'delete-image']);
		expect(plan.steps[2]).toMatchObject({file: 'top.qcow2'});
	});

	it('streams into every branch when the frozen image is shared', () => {
		const state = vmState(
			'b.qcow2',
			's2',
			[snapshot('s1', null, 'base.qcow2'), snapshot('s2', 's1', 'a.qcow2', 'external', 1)],
			[image('base.qcow2', null), image('a.qcow2', 'base.qcow2'), image('b.qcow2', 'base.qcow2')],
		);
		const plan = planMerge(state, 's1');
		expect(ops(plan)).toEqual(['rebase', 'rebase', 'write-definition', 'delete-image']);
		expect(plan.steps.slice(0, 2).map(step => (step as {file: string}).file)).toEqual(['a.qcow2', 'b.qcow2']);
		expect(definitionOf(plan).snapshots).toEqual([expect.objectContaining({name: 's2', parent: null})]);
	});

	it('refuses where a child holds internal snapshots, and says which', () => {
		const error = refusal(() => planMerge(oneSnapshot(5, 1, {top: ['i9']}), 's1'));
		expect(error.kind).toBe('refused');
		expect(error.message).toContain('i9');
		expect(error.hint).toContain('snapdeck merge vm1 i9');
	});

	it('refuses a shared frozen image that holds internal snapshots', () => {
		const state = vmState(
			'b.qcow2',
			's1',
			[snapshot('s1', null, 'base.qcow2')],
			[image('base.qcow2', null, 1, ['i1']), image('a.qcow2', 'base.qcow2'), image('b.qcow2', 'base.qcow2')],
		);
		expect(refusal(() => planMerge(state, 's1')).message).toContain('shared by 2 branches');
	});

	it('deletes an internal snapshot in place and re-parents its children', () => {
		const state = vmState(
			'disk.qcow2',
			'i2',
			[snapshot('i1', null, 'disk.qcow2', 'internal'), snapshot('i2', 'i1', 'disk.qcow2', 'internal', 1)],
			[image('disk.qcow2', null, 1, ['i1', 'i2'])],
		);
		const plan = planMerge(state, 'i1');
		expect(ops(plan)).toEqual(['internal-delete', 'write-definition']);
		expect(definitionOf(plan).snapshots).toEqual([expect.objectContaining({name: 'i2', parent: null})]);
		const ofCurrent = planMerge(state, 'i2');
		expect(definitionOf(ofCurrent).current).toBe('i1');
	});

	it('reports the peak free space, before the deletions give it back', () => {
		const plan = planMerge(oneSnapshot(5_000_000, 1_000_000), 's1');
		expect(plan.space).toBe(1_000_000);
	});
});
