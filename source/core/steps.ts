import type {ImageInfo, VmDefinition} from './model.js';
import type {Step} from './plan.js';

/** Room a fresh qcow2 overlay or a new snapshot table takes: headers, L1 and refcount tables. */
export const METADATA_BYTES = 1024 * 1024;

type Images = Readonly<Record<string, ImageInfo>>;
const size = (images: Images, file: string) => images[file]?.actualSize ?? 0;

export const createOverlay = (disk: string, file: string, backing: string): Step => ({
	op: 'create-overlay',
	disk,
	file,
	backing,
	summary: `${disk}: create overlay ${file} on ${backing}`,
	reads: [backing],
	writes: [],
	creates: [file],
	deletes: [],
	bytes: 0,
	space: METADATA_BYTES,
	undo: `delete ${file}`,
});

export const internalCreate = (disk: string, file: string, name: string, memory: boolean): Step => ({
	op: 'internal-create',
	disk,
	file,
	name,
	memory,
	summary: `${disk}: record internal snapshot '${name}' in ${file}`,
	reads: [file],
	writes: [file],
	creates: [],
	deletes: [],
	bytes: 0,
	space: METADATA_BYTES,
	undo: `delete internal snapshot '${name}' from ${file}`,
});

/**
 * QEMU applies an internal snapshot only to an image without dirty bitmaps: the backup bitmaps on
 * it (`bitmaps`) are dropped first, which the summary says (the next backup of the disk is a full).
 */
export const internalApply = (disk: string, file: string, name: string, bitmaps: readonly string[] = []): Step => ({
	op: 'internal-apply',
	disk,
	file,
	name,
	summary: `${disk}: roll ${file} back to its internal snapshot '${name}'${bitmaps.length > 0 ? ` (dropping its change-tracking bitmap${bitmaps.length === 1 ? '' : 's'} ${bitmaps.join(', ')}: the next backup of ${disk} is a full)` : ''}`,
	reads: [file],
	writes: [file],
	creates: [],
	deletes: [],
	bytes: 0,
	space: 0,
	undo: `cannot be undone: the data ${file} held since '${name}' is discarded`,
});

export const internalDelete = (disk: string, file: string, name: string): Step => ({
	op: 'internal-delete',
	disk,
	file,
	name,
	summary: `${disk}: delete internal snapshot '${name}' from ${file}`,
	reads: [file],
	writes: [file],
	creates: [],
	deletes: [],
	bytes: 0,
	space: 0,
	undo: `cannot be undone: the clusters only '${name}' used are freed`,
});

export const copyInternal = (images: Images, disk: string, source: string, name: string, target: string): Step => {
	const backing = images[source]?.backing ?? null;
	return {
		op: 'copy-internal',
		disk,
		source,
		name,
		target,
		backing,
		summary: `${disk}: copy internal snapshot '${name}' of ${source} into new image ${target}${backing ? ` on ${backing}` : ''}`,
		reads: backing ? [source, backing] : [source],
		writes: [],
		creates: [target],
		deletes: [],
		bytes: size(images, source),
		space: size(images, source) + METADATA_BYTES,
		undo: `delete ${target}`,
	};
};

export const commit = (images: Images, disk: string, top: string, base: string): Step => ({
	op: 'commit',
	disk,
	top,
	base,
	summary: `${disk}: commit ${top} down into ${base}`,
	reads: [top],
	writes: [base],
	creates: [],
	deletes: [],
	bytes: size(images, top),
	space: size(images, top),
	undo: `cannot be undone: ${base} then holds ${top}'s data (${top} itself still reads the same until it is deleted)`,
});

export const rebase = (
	images: Images,
	disk: string,
	file: string,
	from: string,
	backing: string | null,
	copy: boolean,
): Step => ({
	op: 'rebase',
	disk,
	file,
	backing,
	copy,
	summary: copy
		? `${disk}: stream ${from} up into ${file}, then back ${file} on ${backing ?? 'nothing (standalone)'}`
		: `${disk}: point ${file} at ${backing ?? 'no backing file'} (header only)`,
	reads: copy ? [from, file] : [file],
	writes: [file],
	creates: [],
	deletes: [],
	bytes: copy ? size(images, from) : 0,
	space: copy ? size(images, from) : 0,
	undo: `rebase ${file} back onto ${from} (header only)`,
});

export const deleteImage = (images: Images, disk: string, file: string): Step => ({
	op: 'delete-image',
	disk,
	file,
	summary: `${disk}: delete ${file}`,
	reads: [],
	writes: [],
	creates: [],
	deletes: [file],
	bytes: 0,
	space: -size(images, file),
	undo: `cannot be undone: ${file} is removed`,
});

export const writeDefinition = (definition: VmDefinition, what: string): Step => ({
	op: 'write-definition',
	definition,
	summary: `record ${what} in the VM's metadata`,
	reads: [],
	writes: ['vm metadata'],
	creates: [],
	deletes: [],
	bytes: 0,
	space: 0,
	undo: 'the previous metadata is kept in the journal',
});

export const stopVm = (vm: string): Step => ({
	op: 'stop-vm',
	summary: `stop ${vm} (powered off: what the guest has not written to disk is lost)`,
	reads: [],
	writes: [],
	creates: [],
	deletes: [],
	bytes: 0,
	space: 0,
	undo: `start ${vm} again`,
});

export const startVm = (vm: string): Step => ({
	op: 'start-vm',
	summary: `start ${vm} again, as it was started, on its new images`,
	reads: [],
	writes: [],
	creates: [],
	deletes: [],
	bytes: 0,
	space: 0,
	undo: `stop ${vm}`,
});
