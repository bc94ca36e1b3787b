import {dependentsOf, internalSnapshotsIn, siblingPath} from './chain.js';
import {assertConsistent, assertPlanConfined} from './consistency.js';
import {SnapdeckError} from './errors.js';
import type {DiskRef, Snapshot, VmDefinition, VmState} from './model.js';
import {assertValidName} from './names.js';
import {makePlan, type Plan, type Step} from './plan.js';
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

const isExternalImage = (definition: VmDefinition, file: string) =>
	definition.snapshots.some(snapshot => snapshot.kind === 'external' && snapshot.disks.some(disk => disk.file === file));

export function planTake(state: VmState, request: TakeRequest): Plan {
	const {definition} = state;
	const name = assertValidName('snapshot', request.name);
	assertConsistent(state, 'take a snapshot of');
	if (definition.snapshots.some(snapshot => snapshot.name === name)) {
		throw new SnapdeckError('input', `VM '${definition.name}' already has a snapshot '${name}'`, 'choose another name');
	}
	const memory = request.memory ?? false;
	if (memory && state.run !== 'running') {
		throw new SnapdeckError('input', `a snapshot with memory saves the RAM of a running VM, and '${definition.name}' is ${state.run}`, 'take a disk snapshot instead (leave out --memory)');
	}
	const quiesced = request.quiesce ?? false;
	if (quiesced && memory) throw new SnapdeckError('input', 'a snapshot with memory is consistent by itself; --quiesce applies to disk snapshots', 'leave out one of --memory and --quiesce');
	if (quiesced && state.run !== 'running') {
		throw new SnapdeckError('input', `quiescing freezes the filesystems of a running guest, and '${definition.name}' is ${state.run}`, 'a stopped VM\'s disks are already consistent: leave out --quiesce');
	}
	const kind = memory ? 'internal' : request.kind;
	const fresh = freshFileNamer(state);
	const planned = definition.disks.map(disk =>
		kind === 'external'
			? {disk, step: steps.createOverlay(disk.target, fresh(disk.file, `${disk.target}.${name}`), disk.file)}
			: {disk, step: steps.internalCreate(disk.target, disk.file, name, memory)},
	);
	const snapshot: Snapshot = {
		name, kind, memory, quiesced, description: request.description ?? '', createdAt: request.now.toISOString(),
		parent: definition.current, disks: definition.disks.map(disk => ({...disk})),
	};
	const next: VmDefinition = {
		...definition,
		current: name,
		snapshots: [...definition.snapshots, snapshot],
		disks: kind === 'external' ? planned.map(({disk, step}) => ({target: disk.target, file: step.creates[0]!})) : definition.disks,
	};
	return assertPlanConfined(state, makePlan({
		action: 'take', vm: definition.name, snapshot: name,
		summary: `take ${kind} snapshot '${name}' of ${definition.name}${memory ? ' with memory' : ''}${quiesced ? ', quiesced' : ''} (${definition.disks.length} disk${definition.disks.length === 1 ? '' : 's'})`,
		steps: [...planned.map(({step}) => step), steps.writeDefinition(next, `snapshot '${name}'`)],
		discards: [], warnings: [],
	}));
}

export function planRevert(state: VmState, name: string): Plan {
	const {definition, images} = state;
	const snapshot = findSnapshot(state, name);
	assertConsistent(state, 'revert');
	const fresh = freshFileNamer(state);
	const creates: Step[] = [];
	const applies: Step[] = [];
	const deletes: Step[] = [];
	const discards: string[] = [];
	const warnings: string[] = [];
	const since = definition.current ? `'${definition.current}'` : 'the first snapshot';

	const disks: DiskRef[] = definition.disks.map(active => {
		const held = snapshot.disks.find(disk => disk.target === active.target);
		if (!held) {
			throw refuse(`snapshot '${name}' has no image for disk ${active.target} (the disk was added after it)`, 'revert is only possible to snapshots that cover every disk');
		}
		let file: string;
		if (snapshot.kind === 'external') {
			file = fresh(held.file, `${active.target}.${name}`);
			creates.push(steps.createOverlay(active.target, file, held.file));
		} else if (held.file === active.file || (dependentsOf(images, held.file).length === 0 && !isExternalImage(definition, held.file))) {
			// Nothing else reads this image: roll it back in place.
			file = held.file;
			applies.push(steps.internalApply(active.target, file, name, images[file]?.bitmaps ?? []));
			discards.push(`${file}: the data of ${active.target} written since internal snapshot '${name}'`);
		} else {
			// Other snapshots are built on this image: copy the snapshot out rather than change it under them.
			file = fresh(held.file, `${active.target}.${name}`);
			creates.push(steps.copyInternal(images, active.target, held.file, name, file));
		}
		if (file !== active.file) {
			const discardable = dependentsOf(images, active.file).length === 0 && !isSnapshotImage(definition, active.file) && internalSnapshotsIn(images, active.file).length === 0;
			if (discardable) {
				deletes.push(steps.deleteImage(images, active.target, active.file));
				discards.push(`${active.file}: the data of ${active.target} written since ${since} (${formatBytes(images[active.file]?.actualSize ?? 0)})`);
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
	if (restart) warnings.push(`${definition.name} is running: it is stopped for the revert and started again afterwards`);
	return assertPlanConfined(state, makePlan({
		action: 'revert', vm: definition.name, snapshot: name,
		summary: `revert ${definition.name} to ${snapshot.kind} snapshot '${name}'${restart ? ', restarting it' : ''}`,
		steps: restart ? [steps.stopVm(definition.name), ...revertSteps, steps.startVm(definition.name)] : revertSteps,
		discards, warnings,
	}));
}

export function planMerge(state: VmState, name: string): Plan {
	const {definition, images} = state;
	const snapshot = findSnapshot(state, name);
	assertConsistent(state, 'merge a snapshot of');
	const content: Step[] = [];
	const deletes: Step[] = [];
	const warnings: string[] = [];
	/** Images whose role passes to another file: a committed top is replaced by its base. */
	const renames = new Map<string, string>();

	for (const {target, file: frozen} of snapshot.disks) {
		if (snapshot.kind === 'internal') {
			content.push(steps.internalDelete(target, frozen, name));
			continue;
		}
		const children = dependentsOf(images, frozen);
		const ownInternals = internalSnapshotsIn(images, frozen);
		const cannot = `cannot merge snapshot '${name}' of ${definition.name}: disk ${target}:`;
		if (children.length === 0) {
			if (ownInternals.length > 0) warnings.push(`${frozen} is kept: it holds internal snapshots ${ownInternals.join(', ')}`);
			else deletes.push(steps.deleteImage(images, target, frozen));
			continue;
		}
		for (const child of children) {
			const held = internalSnapshotsIn(images, child);
			if (held.length > 0) {
				throw refuse(
					`${cannot} ${child} is built on ${frozen} and holds internal snapshots ${held.join(', ')}; streaming ${frozen} into it would change what they read, and committing it down would delete them`,
					`delete those internal snapshots first (snapdeck merge ${definition.name} ${held[0]})`,
				);
			}
		}
		const backing = images[frozen]?.backing ?? null;
		if (children.length > 1) {
			if (ownInternals.length > 0) {
				throw refuse(
					`${cannot} ${frozen} is shared by ${children.length} branches (${children.join(', ')}) and holds internal snapshots ${ownInternals.join(', ')}; it can neither be committed into one branch nor deleted`,
					`delete internal snapshots ${ownInternals.join(', ')} first, or merge away the other branches`,
				);
			}
			for (const child of children) content.push(steps.rebase(images, target, child, frozen, backing, true));
			deletes.push(steps.deleteImage(images, target, frozen));
			continue;
		}
		const child = children[0]!;
		const childSize = images[child]?.actualSize ?? 0;
		const frozenSize = images[frozen]?.actualSize ?? 0;
		// Commit keeps the frozen image (and any internal snapshots in it); streaming deletes it.
		if (ownInternals.length > 0 || childSize <= frozenSize) {
			content.push(steps.commit(images, target, child, frozen));
			for (const grandchild of dependentsOf(images, child)) content.push(steps.rebase(images, target, grandchild, child, frozen, false));
			renames.set(child, frozen);
			deletes.push(steps.deleteImage(images, target, child));
		} else {
			content.push(steps.rebase(images, target, child, frozen, backing, true));
			deletes.push(steps.deleteImage(images, target, frozen));
		}
	}

	const rename = (disk: DiskRef): DiskRef => ({...disk, file: renames.get(disk.file) ?? disk.file});
	const next: VmDefinition = {
		...definition,
		disks: definition.disks.map(rename),
		current: definition.current === name ? snapshot.parent : definition.current,
		snapshots: definition.snapshots
			.filter(other => other.name !== name)
			.map(other => ({...other, parent: other.parent === name ? snapshot.parent : other.parent, disks: other.disks.map(rename)})),
	};
	return assertPlanConfined(state, makePlan({
		action: 'merge', vm: definition.name, snapshot: name,
		summary: `merge away ${snapshot.kind} snapshot '${name}' of ${definition.name}, keeping every other snapshot's data`,
		steps: [...content, steps.writeDefinition(next, `that '${name}' is gone`), ...deletes],
		discards: [`snapshot '${name}': the state of the VM at ${snapshot.createdAt}`],
		warnings,
	}));
}
