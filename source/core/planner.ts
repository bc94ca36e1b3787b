import {dependentsOf, internalSnapshotsIn, siblingPath} from './chain.js';
import {assertConsistent, assertPlanConfined} from './consistency.js';
import {SnapdeckError} from './errors.js';
import type {DiskRef, ImageInfo, Snapshot, VmDefinition, VmState} from './model.js';
import {assertValidName} from './names.js';
import {makePlan, type Plan, type Step} from './plan.js';
import {QCOW2_STORES} from './qcow2-store-plans.js';
import type {StorePlanning, StoreView} from './snapshot-store.js';
import * as steps from './steps.js';
import {formatBytes} from './units.js';

export interface TakeRequest {
	readonly name: string;
	readonly description?: string;
	readonly kind: 'external' | 'internal';
	/** Save the RAM too (a running VM only; the snapshot is then internal). */
	readonly memory?: boolean;
	/** Freeze the guest's filesystems through its agent while the disks are snapshotted. */
	readonly quiesce?: boolean;
	readonly now: Date;
}

const refuse = (message: string, hint?: string) => new SnapdeckError('refused', message, hint);

function findSnapshot(state: VmState, name: string): Snapshot {
	assertValidName('snapshot', name);
	const snapshot = state.definition.snapshots.find(candidate => candidate.name === name);
	if (!snapshot) {
		const known = state.definition.snapshots.map(candidate => candidate.name);
		throw new SnapdeckError(
			'not-found',
			`VM '${state.definition.name}' has no snapshot '${name}'`,
			known.length > 0 ? `its snapshots are: ${known.join(', ')}` : 'it has no snapshots yet',
			'no-such-snapshot',
		);
	}
	return snapshot;
}

/**
 * A new image beside `beside` that nobody uses yet: `TARGET.NAME.qcow2`, else `TARGET.NAME-2.qcow2`, ...
 * (with the adapter's prefix, where VMs share a directory).
 */
function freshFileNamer(state: VmState) {
	const taken = new Set([...state.existingFiles, ...Object.keys(state.images)]);
	return (beside: string, stemName: string) => {
		const stem = siblingPath(beside, `${state.imagePrefix ?? ''}${stemName}`);
		let file = `${stem}.qcow2`;
		for (let n = 2; taken.has(file); n++) file = `${stem}-${n}.qcow2`;
		taken.add(file);
		return file;
	};
}

const isSnapshotImage = (definition: VmDefinition, file: string) =>
	definition.snapshots.some(snapshot => snapshot.disks.some(disk => disk.file === file));

/** The store that keeps each kind of snapshot: the planner asks it what a take, revert or merge is on one disk. */
export type SnapshotStores = Readonly<Record<Snapshot['kind'], StorePlanning>>;

const viewOf = (state: VmState): StoreView => ({state, fresh: freshFileNamer(state)});

export function planTake(state: VmState, request: TakeRequest, stores: SnapshotStores = QCOW2_STORES): Plan {
	const {definition} = state;
	const name = assertValidName('snapshot', request.name);
	assertConsistent(state, 'take a snapshot of');
	if (definition.snapshots.some(snapshot => snapshot.name === name)) {
		throw new SnapdeckError('input', `VM '${definition.name}' already has a snapshot '${name}'`, 'choose another name');
	}
	const memory = request.memory ?? false;
	if (memory && state.run !== 'running') {
		throw new SnapdeckError(
			'input',
			`a snapshot with memory saves the RAM of a running VM, and '${definition.name}' is ${state.run}`,
			'take a disk snapshot instead (leave out --memory)',
		);
	}
	const quiesced = request.quiesce ?? false;
	if (quiesced && memory)
		throw new SnapdeckError(
			'input',
			'a snapshot with memory is consistent by itself; --quiesce applies to disk snapshots',
			'leave out one of --memory and --quiesce',
		);
	if (quiesced && state.run !== 'running') {
		throw new SnapdeckError(
			'input',
			`quiescing freezes the filesystems of a running guest, and '${definition.name}' is ${state.run}`,
			"a stopped VM's disks are already consistent: leave out --quiesce",
		);
	}
	const kind = memory ? 'internal' : request.kind;
	const view = viewOf(state);
	const planned = definition.disks.map(disk => ({disk, ...stores[kind].take(view, disk, name, memory)}));
	const snapshot: Snapshot = {
		name,
		kind,
		memory,
		quiesced,
		description: request.description ?? '',
		createdAt: request.now.toISOString(),
		parent: definition.current,
		disks: definition.disks.map(disk => ({...disk})),
	};
	const next: VmDefinition = {
		...definition,
		current: name,
		snapshots: [...definition.snapshots, snapshot],
		disks: planned.map(({disk, file}) => ({target: disk.target, file})),
	};
	return assertPlanConfined(
		state,
		makePlan({
			action: 'take',
			vm: definition.name,
			snapshot: name,
			summary: `take ${kind} snapshot '${name}' of ${definition.name}${memory ? ' with memory' : ''}${quiesced ? ', quiesced' : ''} (${definition.disks.length} disk${definition.disks.length === 1 ? '' : 's'})`,
			steps: [...planned.map(({step}) => step), steps.writeDefinition(next, `snapshot '${name}'`)],
			discards: [],
			warnings: [],
		}),
	);
}

/** What an image a plan discards holds: the data written to it where measured, else only its size on disk (its tables too). */
const heldWords = (image: ImageInfo | undefined) =>
	image?.writtenBytes === undefined
		? `${formatBytes(image?.actualSize ?? 0)} on disk`
		: image.writtenBytes === 0
			? 'no data'
			: formatBytes(image.writtenBytes);

export function planRevert(state: VmState, name: string, stores: SnapshotStores = QCOW2_STORES): Plan {
	const {definition, images} = state;
	const snapshot = findSnapshot(state, name);
	assertConsistent(state, 'revert');
	const view = viewOf(state);
	const creates: Step[] = [];
	const applies: Step[] = [];
	const deletes: Step[] = [];
	const discards: string[] = [];
	const warnings: string[] = [];
	const since = definition.current ? `'${definition.current}'` : 'the first snapshot';

	const disks: DiskRef[] = definition.disks.map(active => {
		const held = snapshot.disks.find(disk => disk.target === active.target);
		if (!held) {
			throw refuse(
				`snapshot '${name}' has no image for disk ${active.target} (the disk was added after it)`,
				'revert is only possible to snapshots that cover every disk',
			);
		}
		const {file, ...revert} = stores[snapshot.kind].revert(view, active, held, name);
		creates.push(...revert.creates);
		applies.push(...revert.applies);
		discards.push(...revert.discards);
		if (file !== active.file) {
			const discardable =
				dependentsOf(images, active.file).length === 0 &&
				!isSnapshotImage(definition, active.file) &&
				internalSnapshotsIn(images, active.file).length === 0;
			if (discardable) {
				deletes.push(steps.deleteImage(images, active.target, active.file));
				discards.push(
					`${active.file}: the data of ${active.target} written since ${since} (${heldWords(images[active.file])})`,
				);
			} else if (internalSnapshotsIn(images, active.file).length > 0) {
				// The file stays for its internal snapshots, but what the disk holds now is in none of them:
				// after this revert nothing reaches it, and a revert to one of those snapshots rolls it away.
				discards.push(
					`${active.file}: the data of ${active.target} written since ${since}, which no snapshot holds (the file is kept for its internal snapshots)`,
				);
			} else {
				warnings.push(`${active.file} is kept: other snapshots need it`);
			}
		}
		return {target: active.target, file};
	});

	const next: VmDefinition = {...definition, disks, current: name};
	const revertSteps = [...creates, ...applies, steps.writeDefinition(next, `the revert to '${name}'`), ...deletes];
	// A running VM loads a memory snapshot in place; for anything else it must be off while its disks change.
	const restart = state.run === 'running' && !snapshot.memory;
	if (restart)
		warnings.push(`${definition.name} is running: it is stopped for the revert and started again afterwards`);
	return assertPlanConfined(
		state,
		makePlan({
			action: 'revert',
			vm: definition.name,
			snapshot: name,
			summary: `revert ${definition.name} to ${snapshot.kind} snapshot '${name}'${restart ? ', restarting it' : ''}`,
			steps: restart ? [steps.stopVm(definition.name), ...revertSteps, steps.startVm(definition.name)] : revertSteps,
			discards,
			warnings,
		}),
	);
}

export function planMerge(state: VmState, name: string, stores: SnapshotStores = QCOW2_STORES): Plan {
	const {definition} = state;
	const snapshot = findSnapshot(state, name);
	assertConsistent(state, 'merge a snapshot of');
	const view = viewOf(state);
	const merges = snapshot.disks.map(held => stores[snapshot.kind].merge(view, held, name));
	const content = merges.flatMap(merge => merge.content);
	const deletes = merges.flatMap(merge => merge.deletes);
	const warnings = merges.flatMap(merge => merge.warnings);
	/** Images whose role passes to another file: a committed top is replaced by its base. */
	const renames = new Map(merges.flatMap(merge => merge.renames));

	const rename = (disk: DiskRef): DiskRef => ({...disk, file: renames.get(disk.file) ?? disk.file});
	const next: VmDefinition = {
		...definition,
		disks: definition.disks.map(rename),
		current: definition.current === name ? snapshot.parent : definition.current,
		snapshots: definition.snapshots
			.filter(other => other.name !== name)
			.map(other => ({
				...other,
				parent: other.parent === name ? snapshot.parent : other.parent,
				disks: other.disks.map(rename),
			})),
	};
	return assertPlanConfined(
		state,
		makePlan({
			action: 'merge',
			vm: definition.name,
			snapshot: name,
			summary: `merge away ${snapshot.kind} snapshot '${name}' of ${definition.name}, keeping every other snapshot's data`,
			steps: [...content, steps.writeDefinition(next, `that '${name}' is gone`), ...deletes],
			discards: [`snapshot '${name}': the state of the VM at ${snapshot.createdAt}`],
			warnings,
		}),
	);
}
