import {dependentsOf, internalSnapshotsIn} from './chain.js';
import {SnapdeckError} from './errors.js';
import type {DiskRef, VmDefinition} from './model.js';
import type {Step} from './plan.js';
import type {DiskMerge, DiskRevert, StoreView, StorePlanning} from './snapshot-store.js';
import * as steps from './steps.js';

/**
 * The planning halves of the two stores every QEMU-based adapter has: external snapshots as qcow2
 * overlays (a snapshot freezes the image, the disk goes on in a new overlay) and internal ones in
 * an image's own qcow2 snapshot table. One tree may mix them (internal snapshots inside overlays),
 * so each looks at the other's images before it changes or deletes one.
 */

const refuse = (message: string, hint?: string) => new SnapdeckError('refused', message, hint);

const isExternalImage = (definition: VmDefinition, file: string) =>
	definition.snapshots.some(
		snapshot => snapshot.kind === 'external' && snapshot.disks.some(disk => disk.file === file),
	);

export const qcow2Overlays: StorePlanning = {
	kind: 'external',
	take: ({fresh}, disk, name) => {
		const file = fresh(disk.file, `${disk.target}.${name}`);
		return {step: steps.createOverlay(disk.target, file, disk.file), file};
	},
	revert: ({fresh}, active, held, name): DiskRevert => {
		const file = fresh(held.file, `${active.target}.${name}`);
		return {file, creates: [steps.createOverlay(active.target, file, held.file)], applies: [], discards: []};
	},
	merge: (view, held, name) => mergeOverlay(view, held, name),
};

export const qcow2Internal: StorePlanning = {
	kind: 'internal',
	take: (_view, disk, name, memory) => ({
		step: steps.internalCreate(disk.target, disk.file, name, memory),
		file: disk.file,
	}),
	revert: ({state: {definition, images}, fresh}, active, held, name): DiskRevert => {
		if (
			held.file === active.file ||
			(dependentsOf(images, held.file).length === 0 && !isExternalImage(definition, held.file))
		) {
			// Nothing else reads this image: roll it back in place.
			return {
				file: held.file,
				creates: [],
				applies: [steps.internalApply(active.target, held.file, name, images[held.file]?.bitmaps ?? [])],
				discards: [`${held.file}: the data of ${active.target} written since internal snapshot '${name}'`],
			};
		}
		// Other snapshots are built on this image: copy the snapshot out rather than change it under them.
		const file = fresh(held.file, `${active.target}.${name}`);
		return {
			file,
			creates: [steps.copyInternal(images, active.target, held.file, name, file)],
			applies: [],
			discards: [],
		};
	},
	merge: (_view, held, name): DiskMerge => ({
		content: [steps.internalDelete(held.target, held.file, name)],
		deletes: [],
		warnings: [],
		renames: [],
	}),
};

/** The store of each snapshot kind, as the planner consults it. */
export const QCOW2_STORES: Readonly<Record<StorePlanning['kind'], StorePlanning>> = {
	external: qcow2Overlays,
	internal: qcow2Internal,
};

/**
 * An overlay snapshot merged away on one disk: the frozen image's data goes down into it from its
 * one child (commit) or up into its children (stream), whichever copies less and loses nothing;
 * internal snapshots inside either image are never orphaned (refused, or the image kept).
 */
function mergeOverlay(
	{state: {definition, images}}: StoreView,
	{target, file: frozen}: DiskRef,
	name: string,
): DiskMerge {
	const children = dependentsOf(images, frozen);
	const ownInternals = internalSnapshotsIn(images, frozen);
	const cannot = `cannot merge snapshot '${name}' of ${definition.name}: disk ${target}:`;
	if (children.length === 0) {
		if (ownInternals.length > 0)
			return {
				content: [],
				deletes: [],
				warnings: [`${frozen} is kept: it holds internal snapshots ${ownInternals.join(', ')}`],
				renames: [],
			};
		return {content: [], deletes: [steps.deleteImage(images, target, frozen)], warnings: [], renames: []};
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
		const content = children.map(child => steps.rebase(images, target, child, frozen, backing, true));
		return {content, deletes: [steps.deleteImage(images, target, frozen)], warnings: [], renames: []};
	}
	const child = children[0]!;
	const childSize = images[child]?.actualSize ?? 0;
	const frozenSize = images[frozen]?.actualSize ?? 0;
	// Commit keeps the frozen image (and any internal snapshots in it); streaming deletes it.
	if (ownInternals.length > 0 || childSize <= frozenSize) {
		const content: Step[] = [steps.commit(images, target, child, frozen)];
		for (const grandchild of dependentsOf(images, child))
			content.push(steps.rebase(images, target, grandchild, child, frozen, false));
		return {content, deletes: [steps.deleteImage(images, target, child)], warnings: [], renames: [[child, frozen]]};
	}
	return {
		content: [steps.rebase(images, target, child, frozen, backing, true)],
		deletes: [steps.deleteImage(images, target, frozen)],
		warnings: [],
		renames: [],
	};
}
