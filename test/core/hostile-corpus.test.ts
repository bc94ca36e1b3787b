import {describe, expect, it} from 'vitest';
import {consistencyProblems} from '../../source/core/consistency.js';
import {SnapdeckError} from '../../source/core/errors.js';
import type {ImageInfo, Snapshot, VmDefinition, VmState} from '../../source/core/model.js';
import type {Plan} from '../../source/core/plan.js';
import {planMerge, planRevert, planTake} from '../../source/core/planner.js';
import {image, snapshot} from './fixtures.js';

/**
 * A corpus of VMs whose metadata was changed behind snapdeck's back, generated from a seed: every
 * plan the planner still makes for them must leave every image the VM (as the plan itself records
 * it) still needs, and any VM with a contradiction must be refused outright.
 */

/** A small seeded generator (mulberry32): the same corpus every run. */
function random(seed: number) {
	let state = seed;
	const next = () => {
		state = (state + 0x6d2b79f5) | 0;
		let t = Math.imul(state ^ (state >>> 15), 1 | state);
		t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
		return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
	};
	return {
		next,
		int: (n: number) => Math.floor(next() * n),
		pick: <T>(items: readonly T[]) => items[Math.floor(next() * items.length)]!,
	};
}

/** A consistent VM: a chain of external snapshots on one disk, some reverted into branches, some internal snapshots. */
function consistentVm(rng: ReturnType<typeof random>): VmState {
	const images: ImageInfo[] = [image('vda.qcow2', null, 1_000_000 + rng.int(9_000_000))];
	const snapshots: Snapshot[] = [];
	let active = 'vda.qcow2';
	let current: string | null = null;
	const count = 1 + rng.int(5);
	for (let index = 1; index <= count; index++) {
		const name = `s${index}`;
		if (rng.next() < 0.25) {
			// An internal snapshot inside the active image.
			const holder = images.find(candidate => candidate.file === active)!;
			images[images.indexOf(holder)] = {
				...holder,
				internalSnapshots: [...holder.internalSnapshots, {name, vmStateSize: 0, createdAt: '2026-01-01T00:00:00.000Z'}],
			};
			snapshots.push({...snapshot(name, current, active, 'internal', index)});
		} else {
			const overlay = `vda.${name}.qcow2`;
			images.push(image(overlay, active, 100_000 + rng.int(9_000_000)));
			snapshots.push(snapshot(name, current, active, 'external', index));
			active = overlay;
		}
		current = name;
		if (rng.next() < 0.2) {
			// A revert to an earlier external snapshot: a new overlay on its frozen image; the old branch stays.
			const target = rng.pick(snapshots.filter(candidate => candidate.kind === 'external'));
			if (target) {
				const overlay = `vda.${name}-r.qcow2`;
				images.push(image(overlay, target.disks[0]!.file, 100_000));
				active = overlay;
				current = target.name;
			}
		}
	}
	return {
		definition: {name: 'vm1', disks: [{target: 'vda', file: active}], current, snapshots},
		run: 'stopped',
		images: Object.fromEntries(images.map(info => [info.file, info])),
		existingFiles: images.map(info => info.file),
	};
}

type Mutation = {name: string; apply: (state: VmState, rng: ReturnType<typeof random>) => VmState | null};

const withDefinition = (state: VmState, change: (definition: VmDefinition) => VmDefinition): VmState => ({
	...state,
	definition: change(state.definition),
});
const editSnapshot = (state: VmState, name: string, change: (snapshot: Snapshot) => Snapshot) =>
	withDefinition(state, definition => ({
		...definition,
		snapshots: definition.snapshots.map(candidate => (candidate.name === name ? change(candidate) : candidate)),
	}));
const externals = (state: VmState) => state.definition.snapshots.filter(candidate => candidate.kind === 'external');

const MUTATIONS: Mutation[] = [
	{
		name: 'a snapshot is its own parent',
		apply: (state, rng) => {
			const victim = rng.pick(state.definition.snapshots);
			return editSnapshot(state, victim.name, candidate => ({...candidate, parent: candidate.name}));
		},
	},
	{
		name: "two snapshots are each other's parents",
		apply: (state, rng) => {
			if (state.definition.snapshots.length < 2) return null;
			const a = rng.pick(state.definition.snapshots);
			const b = rng.pick(state.definition.snapshots.filter(candidate => candidate !== a));
			return editSnapshot(
				editSnapshot(state, a.name, candidate => ({...candidate, parent: b.name})),
				b.name,
				candidate => ({...candidate, parent: a.name}),
			);
		},
	},
	{
		name: 'an external snapshot names the active image as frozen',
		apply: (state, rng) => {
			const victim = externals(state).length > 0 ? rng.pick(externals(state)) : null;
			return (
				victim &&
				editSnapshot(state, victim.name, candidate => ({
					...candidate,
					disks: [{target: 'vda', file: state.definition.disks[0]!.file}],
				}))
			);
		},
	},
	{
		name: 'two external snapshots freeze one image',
		apply: (state, rng) => {
			if (externals(state).length < 2) return null;
			const [a, b] = [rng.pick(externals(state)), rng.pick(externals(state))];
			if (a === b) return null;
			return editSnapshot(state, b.name, candidate => ({...candidate, disks: a.disks}));
		},
	},
	{
		name: 'a parent that does not exist',
		apply: (state, rng) =>
			editSnapshot(state, rng.pick(state.definition.snapshots).name, candidate => ({...candidate, parent: 'ghost'})),
	},
	{
		name: 'a current snapshot that does not exist',
		apply: state => withDefinition(state, definition => ({...definition, current: 'ghost'})),
	},
	{
		name: 'a backing chain that loops',
		apply: state => {
			const active = state.definition.disks[0]!.file;
			return {
				...state,
				images: {
					...state.images,
					'vda.qcow2': {...state.images['vda.qcow2']!, backing: active === 'vda.qcow2' ? 'vda.qcow2' : active},
				},
			};
		},
	},
	{
		name: 'an image built on the active image',
		apply: state => {
			const active = state.definition.disks[0]!.file;
			return {...state, images: {...state.images, 'stray.qcow2': image('stray.qcow2', active)}};
		},
	},
];

/** Every image a definition still needs: active images, frozen images, and all they are built on. */
function needed(definition: VmDefinition, images: Readonly<Record<string, ImageInfo>>): Set<string> {
	const out = new Set<string>();
	const roots = [...definition.disks, ...definition.snapshots.flatMap(candidate => candidate.disks)].map(
		disk => disk.file,
	);
	for (const root of roots)
		for (let file: string | null = root; file !== null && !out.has(file); file = images[file]?.backing ?? null)
			out.add(file);
	return out;
}

function plansFor(state: VmState): Array<{what: string; plan: () => Plan}> {
	const names = state.definition.snapshots.map(candidate => candidate.name);
	return [
		{
			what: 'take',
			plan: () => planTake(state, {name: 'new1', kind: 'external', now: new Date('2026-06-01T00:00:00Z')}),
		},
		{
			what: 'take internal',
			plan: () => planTake(state, {name: 'new2', kind: 'internal', now: new Date('2026-06-01T00:00:00Z')}),
		},
		...names.flatMap(name => [
			{what: `revert ${name}`, plan: () => planRevert(state, name)},
			{what: `merge ${name}`, plan: () => planMerge(state, name)},
		]),
	];
}

describe('a corpus of hostile VM metadata', () => {
	it('every contradiction refuses every plan; no plan on a consistent VM deletes an image the VM still needs', () => {
		const counts = {vms: 0, plans: 0, refused: 0, made: 0};
		for (let seed = 1; seed <= 400; seed++) {
			const rng = random(seed);
			const clean = consistentVm(rng);
			expect(consistencyProblems(clean.definition, clean.images), `seed ${seed}`).toEqual([]);
			const mutation = seed % 5 === 0 ? null : MUTATIONS[seed % MUTATIONS.length]!;
			const state = mutation ? mutation.apply(clean, rng) : clean;
			if (!state) continue;
			counts.vms++;
			const hostile = mutation !== null;
			if (hostile)
				expect(consistencyProblems(state.definition, state.images), `seed ${seed}: ${mutation.name}`).not.toEqual([]);
			for (const {what, plan: make} of plansFor(state)) {
				counts.plans++;
				let plan: Plan;
				try {
					plan = make();
				} catch (error) {
					expect(error, `seed ${seed} ${what}`).toBeInstanceOf(SnapdeckError);
					counts.refused++;
					continue;
				}
				expect(hostile, `seed ${seed}: ${mutation?.name} let '${what}' through`).toBe(false);
				counts.made++;
				const next = plan.steps.find(step => step.op === 'write-definition');
				if (!next || next.op !== 'write-definition') continue;
				const created = plan.steps.flatMap(step => step.creates);
				const after = {
					...state.images,
					...Object.fromEntries(
						created.map(file => [
							file,
							image(
								file,
								plan.steps.find(step => step.op === 'create-overlay' && step.file === file)?.op === 'create-overlay'
									? (plan.steps.find(step => step.op === 'create-overlay' && step.file === file) as {backing: string})
											.backing
									: null,
							),
						]),
					),
				};
				// Rebases change what an image is built on: follow them.
				for (const step of plan.steps)
					if (step.op === 'rebase') after[step.file] = {...after[step.file]!, backing: step.backing};
				const keep = needed(next.definition, after);
				const deleted = plan.steps.flatMap(step => step.deletes);
				expect(
					deleted.filter(file => keep.has(file)),
					`seed ${seed} ${what} deletes what the VM still needs`,
				).toEqual([]);
			}
		}
		// The corpus is large enough to mean something, and both outcomes happen.
		expect(counts.vms).toBeGreaterThan(300);
		expect(counts.refused).toBeGreaterThan(500);
		expect(counts.made).toBeGreaterThan(200);
		console.log(
			`hostile corpus: ${counts.vms} VMs, ${counts.plans} plans asked for, ${counts.refused} refused, ${counts.made} made`,
		);
	});
});

describe('a vm.json with thousands of snapshots in one chain', () => {
	it('is checked in time linear in its length: a loop at its top is found once, and a long chain is no problem', () => {
		const count = 20_000;
		const snapshots = Array.from({length: count}, (_, index) =>
			snapshot(`s${index}`, index === 0 ? `s${count - 1}` : `s${index - 1}`, `vda.s${index}.qcow2`),
		);
		const definition: VmDefinition = {
			name: 'vm1',
			disks: [{target: 'vda', file: 'vda.qcow2'}],
			current: 's1',
			snapshots,
		};
		// Each snapshot's parent is read a bounded number of times: walking every snapshot's parents from
		// each (as before) read them 200 million times here, which took minutes (5.5 s at 3000).
		let reads = 0;
		for (const entry of snapshots) {
			const {parent} = entry;
			Object.defineProperty(entry, 'parent', {
				enumerable: true,
				get: () => {
					reads++;
					return parent;
				},
			});
		}
		const problems = consistencyProblems(definition);
		expect(reads).toBeLessThan(5 * count);
		expect(problems).toHaveLength(1);
		expect(problems[0]).toMatch(/^snapshots 's0' → 's19999' → .* → 's0' are each other's parents \(a loop\)$/);
		expect(
			consistencyProblems({...definition, snapshots: snapshots.map((s, i) => (i === 0 ? {...s, parent: null} : s))}),
		).toEqual([]);
	});
});

describe('an image graph of thousands of images in one chain', () => {
	it('is checked in time linear in its length: a loop through every image is found once, and a long chain is no problem', () => {
		const count = 20_000;
		const files = Array.from({length: count}, (_, index) => `vda.s${index}.qcow2`);
		const snapshots = files.map((file, index) => snapshot(`s${index}`, index === 0 ? null : `s${index - 1}`, file));
		const definition: VmDefinition = {
			name: 'vm1',
			disks: [{target: 'vda', file: 'vda.qcow2'}],
			current: `s${count - 1}`,
			snapshots,
		};
		// Each image's backing file is read a bounded number of times: walking every image's chain
		// from each (as before) read them 200 million times here, and searched each walk at each step.
		let reads = 0;
		const counted = (info: ImageInfo): ImageInfo => {
			const {backing} = info;
			return Object.defineProperty({...info}, 'backing', {
				enumerable: true,
				get: () => {
					reads++;
					return backing;
				},
			});
		};
		const graph = (baseBacking: string | null) =>
			Object.fromEntries(
				[
					...files.map((file, index) => image(file, index === 0 ? baseBacking : files[index - 1]!)),
					image('vda.qcow2', files.at(-1)!),
				]
					.map(counted)
					.map(info => [info.file, info]),
			);
		expect(consistencyProblems(definition, graph(null))).toEqual([]);
		expect(reads).toBeLessThan(10 * count);
		reads = 0;
		const problems = consistencyProblems(definition, graph(files.at(-1)!));
		expect(reads).toBeLessThan(10 * count);
		expect(problems.filter(problem => problem.includes('loops'))).toHaveLength(1);
		expect(problems.find(problem => problem.includes('loops'))).toMatch(
			/^the backing chain of vda\.s\d+\.qcow2 loops \(vda\.s\d+\.qcow2 → .* → vda\.s\d+\.qcow2\)$/,
		);
	});
});
