import {z} from 'zod';
import {NAME_PATTERN, NAME_RULE} from './names.js';
import {VmIdentity} from './identity.js';

/** A VM or snapshot name, held to the documented set (see names.ts). */
export const Name = z.string().regex(NAME_PATTERN, {message: `must be ${NAME_RULE}`});

/** One disk of a VM: its target (vda, vdb, ...) and an image file as the adapter names it. */
export const DiskRef = z.object({
	target: Name,
	file: z.string().min(1),
});
export type DiskRef = z.infer<typeof DiskRef>;

export const SnapshotKind = z.enum(['external', 'internal']);
export type SnapshotKind = z.infer<typeof SnapshotKind>;

/**
 * A snapshot, whatever the adapter. For an external snapshot `disks[].file` is the image that was
 * frozen when it was taken (it holds the state at the snapshot); for an internal snapshot it is the
 * image whose qcow2 snapshot table holds it.
 */
export const Snapshot = z.object({
	name: Name,
	kind: SnapshotKind,
	memory: z.boolean().default(false),
	/** The guest's filesystems were frozen through its agent while it was taken. */
	quiesced: z.boolean().default(false),
	description: z.string().default(''),
	createdAt: z.iso.datetime({offset: true}),
	parent: Name.nullable(),
	disks: z.array(DiskRef).min(1),
});
export type Snapshot = z.infer<typeof Snapshot>;

/** What a VM is, as far as snapshots are concerned: its active images, snapshots and position. */
export const VmDefinition = z.object({
	name: Name,
	disks: z.array(DiskRef).min(1),
	/** The snapshot the running state descends from; null before the first snapshot. */
	current: Name.nullable(),
	snapshots: z.array(Snapshot),
});
export type VmDefinition = z.infer<typeof VmDefinition>;

export const InternalSnapshotInfo = z.object({
	name: z.string(),
	vmStateSize: z.number().int().nonnegative(),
	createdAt: z.string(),
});
export type InternalSnapshotInfo = z.infer<typeof InternalSnapshotInfo>;

/** What an image file holds, read from the image itself (qemu-img info). */
export const ImageInfo = z.object({
	file: z.string(),
	format: z.string(),
	virtualSize: z.number().int().nonnegative(),
	actualSize: z.number().int().nonnegative(),
	/** The guest bytes it holds itself (written to it since it was made), where they were measured: a plan that discards it says them. */
	writtenBytes: z.number().int().nonnegative().optional(),
	/** The backing image, named the way the adapter names files; null for a base image. */
	backing: z.string().nullable(),
	internalSnapshots: z.array(InternalSnapshotInfo),
	bitmaps: z.array(z.string()).default([]),
});
export type ImageInfo = z.infer<typeof ImageInfo>;

export const VmRunState = z.enum(['running', 'stopped', 'unknown']);
export type VmRunState = z.infer<typeof VmRunState>;

/** Everything the planner needs to know about one VM, gathered by an adapter. */
export interface VmState {
	readonly definition: VmDefinition;
	readonly run: VmRunState;
	/** Every image the definition reaches, directly or through backing files, by file name. */
	readonly images: Readonly<Record<string, ImageInfo>>;
	/** Names already taken in the VM's storage, so new images never overwrite anything. */
	readonly existingFiles: readonly string[];
	/** Put before new image names where several VMs share a directory (libvirt's image pools). */
	readonly imagePrefix?: string;
}

/** A disk as the inventory shows it. */
export const DiskSummary = z.object({
	target: z.string(),
	file: z.string(),
	virtualSize: z.number().int().nonnegative(),
	/** Image files from the active one down to the base. */
	chain: z.array(z.string()),
});
export type DiskSummary = z.infer<typeof DiskSummary>;

/** One row of `snapdeck list`. */
export const VmSummary = z.object({
	name: z.string(),
	state: VmRunState,
	disks: z.array(DiskSummary),
	snapshots: z.number().int().nonnegative(),
	chainDepth: z.number().int().nonnegative(),
	current: z.string().nullable(),
	/** Set when the VM could not be read; the rest of the row is then best effort. */
	error: z.string().nullable(),
	/** When the newest complete backup in the repository was taken; null when there is none. */
	lastBackup: z.string().nullable().optional(),
	/** When a point was last copied off-site from this host; null when never. */
	lastOffsite: z.string().nullable().optional(),
	/** Who is at work on the VM now (a job of this or another snapdeck, holding its lock); null when nobody. */
	busy: z.string().nullable().optional(),
	/** Which VM it is (its host and UUID, core/identity.ts), where the adapter could tell. */
	identity: VmIdentity.optional(),
});
export type VmSummary = z.infer<typeof VmSummary>;
