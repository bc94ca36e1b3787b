import type {VmIdentity} from '../core/identity.js';
import type {VmState, VmSummary} from '../core/model.js';
import type {OperationStore, Plan, StepExecutor} from '../core/plan.js';
import {SnapdeckError} from '../core/errors.js';
import type {LockHolder} from './state/lock.js';

export interface Inspection {
	readonly state: VmState;
	/** What is wrong with the VM's images or metadata; any entry blocks every change. */
	readonly problems: readonly string[];
	/** What looks off but blocks nothing (an overlay no snapshot knows); for the operator and health checks. */
	readonly findings: readonly string[];
	/**
	 * What the adapter read along and needs again for this VM (local: its parsed vm.json), carried
	 * here rather than kept by the adapter, so nothing depends on the order of calls. Only the
	 * adapter that made the inspection reads it.
	 */
	readonly native?: unknown;
}

/** One disk's file in a backup: where it goes and, for an incremental, the previous point's file. */
export interface BackupTarget {
	readonly disk: string;
	/** Absolute path of the new point file; it does not exist yet. */
	readonly file: string;
	/** Absolute path of the previous point's file for this disk; null for a full. */
	readonly backing: string | null;
	readonly virtualSize: number;
}

/**
 * How a backup reads a VM's disks, whatever the adapter: QMP jobs (the local adapter: the VM's own
 * QEMU, or a qemu-storage-daemon on a stopped VM) or libvirt's backup-begin with checkpoints. Held
 * under the VM's lock; close() lets go.
 */
/** How a boot test decides the guest is up (see verify --boot). */
export interface BootCheck {
	readonly timeoutMs: number;
	/** A regular expression the serial console must show; null: the guest agent must answer. */
	readonly pattern: string | null;
	/** A program and its arguments run through the agent (guest-exec) once it answers; it must exit 0. */
	readonly command: readonly string[] | null;
}

export interface BootOptions {
	readonly signal?: AbortSignal;
	readonly onCopied?: (done: number, total: number) => void;
	/**
	 * The job's token and how to register the throwaway VM before it is made (JobContext.registers):
	 * its name carries the token, so recover destroys it after a kill, and nothing else.
	 */
	readonly throwaway?: {readonly token: string; readonly register: (name: string) => Promise<void>};
	/** Told when the throwaway VM has been started. */
	readonly onStarted?: () => void;
	/** The point's own copies of what the VM needs to start besides its disks, by how its definition names them (never the live VM's). */
	readonly bootFiles?: Readonly<Record<string, string>>;
}

/** What a boot test saw: its verdict, how long it took, the console's text and a PNG of the display. */
export interface BootResult {
	readonly ok: boolean;
	readonly message: string;
	readonly seconds: number;
	readonly console: string;
	readonly screenshot: Buffer | null;
}

/** Where an audit reads a disk as it was at the instant of a backup: a qcow2 chain by its top file, or an NBD export. */
export type AuditSource =
	| {readonly kind: 'file'; readonly path: string}
	| {readonly kind: 'nbd'; readonly socket: string; readonly export: string};

/** What a backup that was asked to be audited leaves open until the audit has read it. */
export interface AuditView {
	/** Each disk as it was at the instant the backup began, by disk. */
	readonly sources: Readonly<Record<string, AuditSource>>;
	/** A folder of the job's where the audit may put its scratch files. */
	readonly dir: string;
	/** Lets go of the view (the export, the overlay that kept the instant). */
	release(): Promise<void>;
}

export interface BackupDriver {
	readonly disks: readonly {readonly target: string; readonly virtualSize: number}[];
	/**
	 * What the VM needs to start besides its disks (a direct-boot kernel and initramfs, UEFI
	 * variables): how its definition names each, and where it is (`fetch` brings it here from another
	 * host). Copied into every
	 * point, so that a point boots (and restores) whole, without the live VM's folder.
	 */
	readonly bootFiles?: ReadonlyArray<{
		readonly role: 'kernel' | 'initrd' | 'nvram';
		readonly name: string;
		readonly path: string;
		readonly fetch?: (local: string) => Promise<void>;
	}>;
	/** The VM's definition as the adapter keeps it, recorded with each backup point. */
	readonly definition: unknown;
	/**
	 * Why this driver cannot start tracking changes for a next incremental, where it cannot: its
	 * points are then fulls without a bitmap, and `bitmap` in copy() is ignored.
	 */
	readonly untracked?: string;
	/**
	 * Whether copy() may write zstd-compressed clusters when asked. QMP's blockdev-backup always can;
	 * libvirt can for a full (pull mode), not for an incremental (push mode), and says so in copy()'s
	 * answer. What copy() left plain the caller compresses afterwards.
	 */
	readonly compresses: boolean;
	/** The change-tracking bitmaps (or checkpoints) whose names start with `prefix`, by disk. */
	bitmaps(prefix: string): Promise<Map<string, Array<{name: string; usable: boolean}>>>;
	/** Bytes bitmap `name` marks as changed, summed over the disks, where the driver can tell (what an incremental will copy). */
	changedBytes?(name: string): Promise<number>;
	/** Removes a bitmap (checkpoint) from every disk; one that is not there is no error. */
	removeBitmap(name: string): Promise<void>;
	/**
	 * Writes each target file: all of the disk, or (with `since`) what changed since bitmap `since`
	 * over the previous point's file. Bitmap `bitmap` starts tracking at the same instant, on every
	 * disk at once. On success each file is complete, closed and backed by `backing` (by a relative
	 * name); on failure the caller removes the files and the new bitmap.
	 */
	copy(request: {
		readonly bitmap: string;
		readonly since: string | null;
		readonly targets: readonly BackupTarget[];
		readonly bytesPerSecond?: number;
		/**
		 * Write zstd-compressed clusters (where `compresses`): copy() resolves to whether it did
		 * (nothing: it did as asked), and why not where it could have.
		 */
		readonly compress?: boolean;
		/** Start the copy with the guest's filesystems frozen through its agent (the point is then consistent). */
		readonly quiesce?: boolean;
		/**
		 * Also keep each disk as it is at the instant the copy begins, for an audit to read (its
		 * files in this folder, a job's work folder): answered with `audit`. Only where `audits`.
		 */
		readonly audit?: {readonly dir: string};
		readonly signal?: AbortSignal;
		readonly onBytes: (done: number, total: number) => void;
	}): Promise<void | {readonly compressed?: boolean; readonly why?: string; readonly audit?: AuditView}>;
	/** Why this driver cannot keep the instant of a backup for an audit, where it cannot. */
	readonly noAudit?: string;
	close(): Promise<void>;
}

/** Starting and stopping VMs. */
export interface Power {
	/** Power, where the adapter can start and stop VMs itself. */
	start(vm: string): Promise<void>;
	/** Resolves false when the VM was not running, else how it was ended (for the journal: "through QMP quit", "by SIGKILL ..."). */
	stop(vm: string): Promise<string | false>;
}

/** Backups: a driver that copies a VM's disks, and what it leaves in a running QEMU. */
export interface Backups {
	/** Backups, where the adapter can make them. */
	backupDriver(vm: string): Promise<BackupDriver>;
	/**
	 * The change-tracking bitmaps a running VM's QEMU holds, by disk: they reach the image file only
	 * when QEMU stops, so the file's own list is stale while it runs. Null when it is not running or
	 * cannot be asked now (another client holds its monitor).
	 */
	liveBitmaps(inspection: Inspection): Promise<Record<string, string[]> | null>;
}

/** Whole-VM archives (every image of a stopped VM's snapshot tree) and new VMs made from them. */
export interface Archives {
	/**
	 * Every image of a stopped VM's snapshot tree, for a whole-VM archive: its name (a file name
	 * alone), where it is, and the image it is an overlay on (by name).
	 */
	archiveImages(
		inspection: Inspection,
	): Promise<{images: Array<{name: string; path: string; backing: string | null}>; definition?: unknown}>;
	/**
	 * Creates VM `name` from a whole-VM archive: each image copied in under its own name by
	 * `copy(image, path)`, the recorded definition (its snapshots included) under the new name.
	 */
	restoreArchive(
		name: string,
		definition: unknown,
		images: readonly string[],
		copy: (image: string, target: string) => Promise<void>,
		work?: WorkFolders,
	): Promise<Record<string, string>>;
}

/** Where an adapter builds something a kill must not leave half made: a job's work folder in `parent` (JobContext.workFolder). */
export type WorkFolders = (parent: string, label: string) => Promise<string>;

/** New VMs made from a backup point. */
export interface Restores {
	/**
	 * Creates a new VM `name` from a backup: `definition` as the point recorded it, each disk's image
	 * written by `write(disk, path)` where the adapter wants it. Resolves to the images by disk.
	 */
	restoreVm(
		name: string,
		definition: unknown,
		disks: readonly string[],
		write: (disk: string, target: string) => Promise<void>,
		work?: WorkFolders,
		bootFiles?: Readonly<Record<string, string>>,
	): Promise<Record<string, string>>;
}

/** Restores written over a VM's own disks. */
export interface InPlaceRestores {
	/** The absolute path of each disk's active image, by disk target. */
	activeImages(vm: string): Promise<Record<string, string>>;
}

/** Restores that run at once from the repository while their data streams in. */
export interface InstantRestores {
	/** A new VM whose disks are overlays on a backup point's files (`backings`, absolute), recorded as an instant restore; built in `work` where given. */
	instantVm(
		name: string,
		definition: unknown,
		backings: Readonly<Record<string, string>>,
		instant: {repository: string; point: string},
		work?: WorkFolders,
		bootFiles?: Readonly<Record<string, string>>,
	): Promise<Record<string, string>>;
	/** The instant restore a VM is still in (the repository folder and point its disks read), or null. */
	instantOf(vm: string): Promise<{repository: string; point: string} | null>;
	/**
	 * Copies into an instantly restored VM's disks what they still read from the repository: streamed
	 * while it runs, or, where it is stopped, offline (it is never started for it). The caller holds
	 * the VM's lock. Resolves to how ('nothing' where it reads nothing from there any more).
	 */
	finishInstant(
		vm: string,
		options?: {signal?: AbortSignal; onBytes?: (done: number, total: number) => void; bytesPerSecond?: number},
	): Promise<'running' | 'stopped' | 'nothing'>;
}

/** Booting a backup point in a throwaway VM. */
export interface BootTests {
	/**
	 * Boots a throwaway copy of a VM from a backup point: `definition` as the point recorded it,
	 * `disks` (overlays on the point's files, by target), sockets and logs in `work`. Isolated (no
	 * network, its own name), always stopped before it resolves. `onCopied` reports the bytes of the
	 * point copied to where it boots, when that is another host.
	 */
	bootThrowaway(
		vm: string,
		definition: unknown,
		disks: Readonly<Record<string, string>>,
		work: string,
		check: BootCheck,
		options?: BootOptions,
	): Promise<BootResult>;
	/**
	 * Destroys throwaway VM `name` that a killed boot test left, where it is one (its name carries
	 * `token`); where the adapter's throwaways die with snapdeck, there is nothing to do.
	 */
	removeThrowaway?(name: string, token: string): Promise<{removed?: string; left?: string}>;
}

/** Checking images from outside (qemu-img check). */
export interface ImageChecks {
	/**
	 * `qemu-img check` of every image the inspection found, except those a running QEMU is writing
	 * (its active images, and every image while a block job runs): read from outside they can look
	 * corrupt when they are not.
	 */
	checkImages(
		inspection: Inspection,
	): Promise<Array<{file: string; errors: number; corruptions: number; leaks: number}>>;
	/** The guest bytes each of `files` (images of the inspection) holds itself, written to it: what discarding it loses. */
	writtenBytes(inspection: Inspection, files: readonly string[]): Promise<Record<string, number>>;
}

/** A guest agent, for quiesced snapshots. */
export interface GuestAgents {
	/** Whether a guest agent answers, so snapshots can be quiesced. */
	canQuiesce(vm: string): Promise<boolean>;
}

/** Seeing the inventory change and who holds a VM. */
export interface Watching {
	/** Who holds the VM's lock now (a job of this or another snapdeck), or null. */
	lockHolder(vm: string): Promise<LockHolder | null>;
	/**
	 * Calls `onChange` when the inventory may have changed (a VM added or removed, its metadata
	 * rewritten, its lock taken or given back), where the adapter can tell; resolves to the stop.
	 */
	watch?(onChange: () => void): () => void;
}

/**
 * What an adapter can do beyond snapshots (its roles): each is there or not, per connection.
 * The service, the UI and the command line offer a role only where it is there, and say why
 * where it is not (Hypervisor.unavailable).
 */
export interface Roles {
	readonly power?: Power;
	readonly backups?: Backups;
	readonly archives?: Archives;
	readonly restores?: Restores;
	readonly inPlaceRestores?: InPlaceRestores;
	readonly instantRestores?: InstantRestores;
	readonly bootTests?: BootTests;
	readonly imageChecks?: ImageChecks;
	readonly guestAgents?: GuestAgents;
	readonly watching?: Watching;
}

export type RoleName = keyof Roles;

/** One hypervisor connection. Every adapter (local, libvirt, ...) implements this. */
export interface Hypervisor {
	readonly uri: string;
	list(): Promise<VmSummary[]>;
	/** Just the VMs' names, where the adapter can tell them more cheaply than list(). */
	names?(): Promise<string[]>;
	inspect(vm: string): Promise<Inspection>;
	/**
	 * Which VM `vm` is (core/identity.ts): this connection's host and the VM's UUID there. Its
	 * backups, job records and journal lines carry it, so two hosts' VMs of one name never mix.
	 */
	identity(vm: string): Promise<VmIdentity>;
	/** Takes the VM's lock (one operation per VM at a time); resolves to its release. */
	lock(vm: string, command: string): Promise<() => Promise<void>>;
	/** Refuses, with reasons, a plan the VM's images or storage cannot take (corruption, free space). */
	preflight(inspection: Inspection, plan: Plan): Promise<void>;
	/** The executor for the VM as it is now (stopped or running). */
	executor(inspection: Inspection): StepExecutor;
	operations(vm: string): OperationStore;
	/** The roles this connection has. */
	readonly roles: Roles;
	/** Why a role this connection lacks is missing (a remote host, a libvirt version), where there is more to say than "not yet". */
	readonly unavailable: Partial<Record<RoleName, string>>;
}

/**
 * A role of the connection, or a refusal that says why it is missing (`doing`: what was asked,
 * for the words when the adapter has none of its own). Nothing was changed when it refuses.
 */
export function roleOf<Name extends RoleName>(
	hypervisor: Hypervisor,
	name: Name,
	doing: string,
	hint?: string,
): NonNullable<Roles[Name]> {
	const role = hypervisor.roles[name];
	if (role) return role as NonNullable<Roles[Name]>;
	throw new SnapdeckError('refused', hypervisor.unavailable[name] ?? `${hypervisor.uri} cannot ${doing} yet`, hint);
}
