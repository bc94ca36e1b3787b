import type {DiskRef, SnapshotKind, VmState} from './model.js';
import type {Step, StepHandlers, StepOp} from './plan.js';

/**
 * A snapshot store: where and how a disk's snapshots are kept (qcow2 overlays, snapshots inside one
 * qcow2 file; later a ZFS zvol's snapshots, LVM-thin, a Proxmox API). The role has two halves, both
 * declared here because the planner consults the first:
 *
 * - `StorePlanning` (pure, core): what a take, a revert and a merge of one disk's snapshot are in
 *   this store, as steps, each with what it reads, writes, deletes and costs (bytes, space). The
 *   planner asks it per disk and keeps what is the same for every store (names, the metadata, the
 *   VM stopped and started, which files a revert may discard).
 * - `SnapshotStore` (adapters): the storage work those steps name, on images no running VM holds,
 *   and what the store reads back (an image's chain and its snapshot list).
 *
 * What is not the store's: a running VM's images belong to its hypervisor, whose executor does the
 * same steps live (QMP block jobs in adapters/local/live-steps.ts, virsh in
 * adapters/libvirt/libvirt-executor.ts) and hands the store what the VM does not hold open.
 */

/** What the planner lends a store for one plan: the VM as inspected, and fresh names for new images. */
export interface StoreView {
	readonly state: VmState;
	/** A new image name beside `beside` that nothing uses yet, from `stem` (unique within the plan). */
	readonly fresh: (beside: string, stem: string) => string;
}

/** One disk put back to a snapshot: the file it is then on, and the steps and losses that takes. */
export interface DiskRevert {
	readonly file: string;
	/** Steps that make new images (run first). */
	readonly creates: readonly Step[];
	/** Steps that roll an image back in place (after the creates). */
	readonly applies: readonly Step[];
	/** What the operator loses, in words, besides the active image the planner may discard. */
	readonly discards: readonly string[];
}

/** One disk's part of a snapshot merged away. */
export interface DiskMerge {
	/** Steps that move data, before the metadata forgets the snapshot. */
	readonly content: readonly Step[];
	/** Images deleted once the metadata no longer names them. */
	readonly deletes: readonly Step[];
	readonly warnings: readonly string[];
	/** Images whose role passes to another (a committed top to its base): [from, to]. */
	readonly renames: ReadonlyArray<readonly [string, string]>;
}

/** The planner's half of a store: pure, from the inspection alone. */
export interface StorePlanning {
	readonly kind: SnapshotKind;
	/** The step that snapshots `disk` now, and the file the disk is on afterwards. */
	take(view: StoreView, disk: DiskRef, name: string, memory: boolean): {readonly step: Step; readonly file: string};
	/** Puts disk `active.target` back to what snapshot `name` holds of it (`held`). */
	revert(view: StoreView, active: DiskRef, held: DiskRef, name: string): DiskRevert;
	/** Merges snapshot `name`'s image of a disk (`held`) away, keeping every other snapshot's data. */
	merge(view: StoreView, held: DiskRef, name: string): DiskMerge;
}

/** What a store reads back about one of its images. */
export interface StoredImage {
	/** The image it is built on (external), null for a base image. */
	readonly backing: string | null;
	/** The snapshots it holds inside (internal), by name. */
	readonly snapshots: readonly string[];
}

/**
 * The working half of a store: one handler per step kind it owns (`ops`), on images no running VM
 * holds, each idempotent when resumed after a crash; the undo of its additive steps; its reads.
 */
export interface SnapshotStore<Op extends StepOp = StepOp> {
	readonly kind: SnapshotKind;
	readonly ops: readonly Op[];
	readonly handlers: StepHandlers<Op>;
	/** Removes what a step of this store added (a new image, a new snapshot), if it is there. */
	rollback(step: Step): Promise<void>;
	read(file: string): Promise<StoredImage>;
}
