import {describe, expect, it} from 'vitest';
import {siblingPath} from '../../source/core/chain.js';
import type {SnapshotKind, VmDefinition, VmState} from '../../source/core/model.js';
import {handleStep, type Step, type StepHandlers} from '../../source/core/plan.js';
import type {SnapshotStore, StorePlanning, StoreView} from '../../source/core/snapshot-store.js';

/**
 * One contract for every snapshot store (core/snapshot-store.ts), restic's backend suite again: a
 * store's planning half says what a take, revert and merge of one disk are, its working half does
 * them, and what the guest reads afterwards is checked byte for byte, on real images. A new store
 * (ZFS, LVM-thin) runs these cases with a fixture of its own (stores.test.ts).
 */
export interface StoreFixture {
	readonly planning: StorePlanning;
	readonly store: Pick<SnapshotStore, 'kind' | 'rollback' | 'read'> & {readonly handlers: Partial<StepHandlers>};
	/** The disk's image, named as the store names files. */
	readonly disk: string;
	/** The VM as an adapter's inspection sees it: every image `definition` reaches. */
	inspect(definition: VmDefinition): Promise<VmState>;
	/** The guest writes `pattern` over 1 MiB at `mib` MiB of the disk on `file`. */
	write(file: string, pattern: number, mib: number): Promise<void>;
	reads(file: string, pattern: number, mib: number): Promise<boolean>;
	/** A copy, elsewhere, of what the disk on `file` reads now; `same` compares a disk with one. */
	keep(file: string): Promise<string>;
	same(file: string, kept: string): Promise<boolean>;
	/** Every name of the store's files (to see what a step leaves). */
	files(): Promise<string[]>;
	/** Bytes the store's files take on their storage now. */
	used(): Promise<number>;
}

const A = 0x1a;
const B = 0x2b;
const C = 0x3c;

/** The metadata once snapshot `name` is merged away, as the planner writes it: images handed over by `renames`. */
function forget(
	definition: VmDefinition,
	name: string,
	renames: ReadonlyArray<readonly [string, string]>,
): VmDefinition {
	const moved = new Map(renames);
	const rename = (disk: {target: string; file: string}) => ({...disk, file: moved.get(disk.file) ?? disk.file});
	const gone = definition.snapshots.find(snapshot => snapshot.name === name)!;
	return {
		...definition,
		disks: definition.disks.map(rename),
		current: definition.current === name ? gone.parent : definition.current,
		snapshots: definition.snapshots
			.filter(snapshot => snapshot !== gone)
			.map(snapshot => ({
				...snapshot,
				parent: snapshot.parent === name ? gone.parent : snapshot.parent,
				disks: snapshot.disks.map(rename),
			})),
	};
}

/** One disk, vda, snapshotted through the store alone, with the metadata kept here as the planner would. */
function driveDisk(f: StoreFixture, kind: SnapshotKind) {
	let definition: VmDefinition = {
		name: 'contract',
		disks: [{target: 'vda', file: f.disk}],
		current: null,
		snapshots: [],
	};
	let made = 0;
	const view = async (): Promise<StoreView> => {
		const state = await f.inspect(definition);
		const taken = new Set([...state.existingFiles, ...Object.keys(state.images)]);
		const fresh = (beside: string, stem: string) => {
			let file: string;
			do file = siblingPath(beside, `${stem}-${++made}.qcow2`);
			while (taken.has(file));
			return file;
		};
		return {state, fresh};
	};
	const context = {resuming: false, onProgress: () => undefined};
	/** The room each step took beyond what it said it may (see Step.space). */
	const overruns: string[] = [];
	/** Every step run, and run again as a resumed step would be after a kill (`twice`). */
	const run = async (steps: readonly Step[], twice = false) => {
		for (const step of steps) {
			const before = await f.used();
			await handleStep(f.store.handlers, step, context);
			if (twice) await handleStep(f.store.handlers, step, {...context, resuming: true});
			const grew = (await f.used()) - before;
			if (grew > Math.max(step.space, 0)) overruns.push(`${step.summary}: ${grew} bytes, ${step.space} planned`);
		}
	};
	const held = (name: string) => definition.snapshots.find(snapshot => snapshot.name === name)!.disks[0]!;
	return {
		overruns,
		active: () => definition.disks[0]!.file,
		async take(name: string, twice = false) {
			const {step, file} = f.planning.take(await view(), definition.disks[0]!, name, false);
			await run([step], twice);
			definition = {
				...definition,
				current: name,
				disks: [{target: 'vda', file}],
				snapshots: [
					...definition.snapshots,
					{
						name,
						kind,
						memory: false,
						quiesced: false,
						description: '',
						createdAt: new Date().toISOString(),
						parent: definition.current,
						disks: definition.disks,
					},
				],
			};
			return step;
		},
		async revert(name: string) {
			const {file, creates, applies} = f.planning.revert(await view(), definition.disks[0]!, held(name), name);
			await run([...creates, ...applies]);
			definition = {...definition, current: name, disks: [{target: 'vda', file}]};
		},
		async merge(name: string, twice = false) {
			const {content, deletes, renames} = f.planning.merge(await view(), held(name), name);
			await run(content, twice);
			definition = forget(definition, name, renames);
			await run(deletes, twice);
		},
		/** How many snapshots the store's own reads show for the disk: layers below the active image, and snapshots inside them. */
		async counted() {
			let count = 0;
			for (let file: string | null = definition.disks[0]!.file, depth = 0; file !== null; depth++) {
				const image = await f.store.read(file);
				count += image.snapshots.length + (depth > 0 ? 1 : 0);
				file = image.backing;
			}
			return count;
		},
	};
}

export function snapshotStoreContract(name: string, make: () => Promise<StoreFixture>) {
	describe(`the snapshot store contract: ${name}`, () => {
		it('a revert gives back exactly what the disk held when the snapshot was taken', async () => {
			const f = await make();
			const disk = driveDisk(f, f.store.kind);
			await f.write(disk.active(), A, 1);
			const atS1 = await f.keep(disk.active());
			await disk.take('s1');
			await f.write(disk.active(), B, 1);
			await f.write(disk.active(), C, 2);
			expect([await f.reads(disk.active(), B, 1), await disk.counted()]).toEqual([true, 1]);
			await disk.revert('s1');
			expect([await f.reads(disk.active(), A, 1), await f.reads(disk.active(), C, 2)]).toEqual([true, false]);
			expect([await f.same(disk.active(), atS1), disk.overruns]).toEqual([true, []]);
		});

		/** s1, then `between` MiB written, s2, more written; s1 merged away: the present and s2 must read as before. */
		const mergeOlder = async (between: readonly number[]) => {
			const f = await make();
			const disk = driveDisk(f, f.store.kind);
			await f.write(disk.active(), A, 1);
			await disk.take('s1');
			for (const mib of between) await f.write(disk.active(), B, mib);
			const atS2 = await f.keep(disk.active());
			await disk.take('s2');
			await f.write(disk.active(), C, 8);
			const present = await f.keep(disk.active());
			expect(await disk.counted()).toBe(2);
			await disk.merge('s1');
			expect([await disk.counted(), await f.same(disk.active(), present)]).toEqual([1, true]);
			await disk.revert('s2');
			expect([await f.same(disk.active(), atS2), disk.overruns]).toEqual([true, []]);
		};

		it("merging an older snapshot away keeps the later one's data and the present; its reads no longer show it", () =>
			mergeOlder([2]));

		it("merging a snapshot after which more was written than before it keeps every snapshot's data (overlays: streamed up, not committed down)", () =>
			mergeOlder([2, 3, 4, 5]));

		it('merging the newest snapshot keeps the present as it is, with each step run again as after a kill', async () => {
			const f = await make();
			const disk = driveDisk(f, f.store.kind);
			await f.write(disk.active(), A, 1);
			await disk.take('s1', true);
			await f.write(disk.active(), B, 2);
			const present = await f.keep(disk.active());
			await disk.merge('s1', true);
			expect([await disk.counted(), await f.same(disk.active(), present)]).toEqual([0, true]);
			expect([await f.reads(disk.active(), A, 1), await f.reads(disk.active(), B, 2)]).toEqual([true, true]);
			expect(disk.overruns).toEqual([]);
		});

		it('a take undone (rollback) leaves the disk and the store as they were', async () => {
			const f = await make();
			const disk = driveDisk(f, f.store.kind);
			await f.write(disk.active(), A, 1);
			const before = {kept: await f.keep(disk.active()), files: await f.files()};
			const step = await disk.take('s1');
			await f.store.rollback(step);
			expect([await f.files(), await f.same(f.disk, before.kept), (await f.store.read(f.disk)).snapshots]).toEqual([
				before.files,
				true,
				[],
			]);
		});
	});
}
