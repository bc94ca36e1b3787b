import type {Snapshot, VmSummary} from '../core/model.js';
import type {BootTest, BackupPoint} from '../core/backup-manifest.js';
import type {Finding} from '../core/health.js';
import type {OffsiteState} from '../core/offsite-model.js';
import type {ListedPoint} from '../core/offsite-claims.js';
import type {JournalRecord, PendingJob, PendingOperation, Plan, PlanEvent} from '../core/plan.js';
import type {TakeRequest} from '../core/planner.js';
import type {Receipt} from '../core/receipt.js';
import type {Retention} from '../core/retention.js';
import type {TreeRow} from '../core/tree.js';
import type {RoleName} from '../adapters/hypervisor.js';
import type {ResticTarget} from '../adapters/restic.js';
import type {Recovered} from '../jobs/run-job.js';
import type {BackupOptions} from '../backup/run-backup.js';
import type {BootTestOptions} from '../backup/boot-test.js';
import type {CheckpointStatus} from '../backup/checkpoints.js';
import type {Extracted} from '../backup/extract.js';
import type {PointBrowser, PointFilesOptions, PointListing} from '../backup/point-files.js';
import type {InstantOptions} from '../backup/instant.js';
import type {CopyOptions, CopyResult, RemotePrunePlan} from '../backup/offsite-copy.js';
import type {RemoteRestored, RemoteRestoreOptions} from '../backup/offsite-restore.js';
import type {RemoteVerdict} from '../backup/offsite-verify.js';
import type {PruneOptions, PruneResult} from '../backup/prune-backups.js';
import type {Binding, Repository} from '../backup/repository.js';
import type {Restored, RestoreOptions} from '../backup/restore.js';
import type {PointVerdict, VerifyOptions} from '../backup/verify.js';
import type {scheduleOverview} from './schedule-state.js';
import type {RunOptions, TaskRun} from './scheduler.js';

/*
 * The ports: what the UI and the command line may ask of a session, as small roles (restic's
 * repository is used the same way, through Lister, Loader, Saver). Each is implemented by a module
 * of its own (`NAME-port.ts`) over the session's one context, and session-ports.ts joins them; a
 * consumer names the few it uses, and none reaches the adapter behind them: what it needs to know
 * of the connection is in `Inventory.connection`.
 */

export type {Extracted, RoleName};

export type Action =
	| {readonly kind: 'take'; readonly vm: string; readonly request: TakeRequest}
	| {readonly kind: 'revert'; readonly vm: string; readonly snapshot: string}
	| {readonly kind: 'merge'; readonly vm: string; readonly snapshot: string};

export interface PerformOptions {
	/** How this operation names itself in the VM's lock and journal. */
	readonly command: string;
	readonly dryRun?: boolean;
	/** Shown the plan; resolves true to go ahead. */
	readonly confirm: (plan: Plan) => Promise<boolean>;
	readonly signal?: AbortSignal;
	readonly onEvent?: (event: PlanEvent) => void;
}

export type Outcome = 'done' | 'dry-run' | 'declined';

/** A job a kill left, as recover found it: what it removed of it, and what it left alone (with why). */
export interface RecoveredJob extends Recovered {
	readonly job: PendingJob;
}

/** What recover did: the plan it finished, the jobs it cleaned up after, and records it found and could not act on. */
export interface RecoverResult {
	readonly plan: Plan | null;
	readonly jobs: readonly RecoveredJob[];
	readonly problems: readonly string[];
	/** What else it did (an instant restore's stream finished), in words. */
	readonly did: readonly string[];
}

export interface TreeView {
	readonly vm: string;
	readonly current: string | null;
	readonly snapshots: readonly Snapshot[];
	readonly rows: readonly TreeRow[];
	/** Bytes each snapshot holds on disk: its frozen images, or the saved RAM of an internal one. */
	readonly sizes: Readonly<Record<string, number>>;
	readonly problems: readonly string[];
	/** Non-blocking observations, such as an overlay no snapshot knows. */
	readonly findings: readonly string[];
	readonly pending: PendingOperation | null;
}

/** One VM's health: its findings under its policy, with the figures monitoring graphs. */
export interface VmHealth {
	readonly vm: string;
	readonly policy: string;
	readonly findings: Finding[];
	readonly lastBackup: string | null;
	readonly chainDepth: number;
	/** The policy's RPO (backups.rpo) in seconds; null when it sets none. */
	readonly rpoSeconds: number | null;
	/** When a restore of it was last proved: its newest receipt signed by this user's key (a restore test, a boot test, an audit). */
	readonly lastProvedRestore: string | null;
	/** When the newest point such a receipt proves was taken: how old the newest data known to restore is. */
	readonly lastProvedPoint: string | null;
	/** How old the newest proof may be (the policy's boot.every), in seconds; null when the policy asks for none. */
	readonly proofMaxAgeSeconds: number | null;
}

/** Which folder of a VM's backups a command works on: another VM's of the same name only when asked (--origin). */
export interface BackupsOf {
	/** Another VM of this name whose backups to use (a host name, or the tag of its folder): restore --as/--to, verify, backups. */
	readonly origin?: string;
}

/** What the UI and the command line know of a connection: its name and what it can do, never the adapter itself. */
export interface Connection {
	/** The connection's URI, as the header, the journal and --json name it (a local: lab by its absolute folder). */
	readonly uri: string;
	/** It reaches guest agents, so a snapshot of a running VM can be quiesced (each VM's agent is asked again when it is taken). */
	readonly canQuiesce: boolean;
}

/** A VM's scheduled task under its policy: its last and next runs. */
export type ScheduledTask = Awaited<ReturnType<typeof scheduleOverview>>[number];

/** The VMs on the connection, their snapshot trees, and what the connection is and can do. */
export interface Inventory {
	readonly connection: Connection;
	/** Why this connection cannot do what `role` covers, or null when it can (for the UI's and CLI's offers). */
	roleProblem(role: RoleName, doing: string): string | null;
	/** The VMs, with their newest backup and off-site copy; `onRows` gets the rows before the repository is read. */
	list(options?: {onRows?: (vms: VmSummary[]) => void}): Promise<VmSummary[]>;
	/** The VMs' names alone, cheaply where the connection can tell them without inspecting each. */
	names(): Promise<string[]>;
	tree(vm: string): Promise<TreeView>;
	/** Whether a guest agent answers in the running VM now, so that its snapshot can be quiesced (asks it: up to a few seconds). */
	canQuiesce(vm: string): Promise<boolean>;
	/** Calls `onChange` when the connection sees the inventory change (where it can); returns the stop. */
	watch(onChange: () => void): () => void;
}

/** Changes to a VM's snapshots (take, revert, merge) and its power, each planned, confirmed and run under its lock. */
export interface Snapshots {
	perform(action: Action, options: PerformOptions): Promise<{plan: Plan; outcome: Outcome}>;
	/** Starts or stops a VM; resolves false when it already was as asked. */
	power(vm: string, on: boolean, command: string): Promise<boolean>;
}

/** A VM's backups in the repository: taking, listing, proving and pruning them; its policy's retention. */
export interface Backups {
	/** The repository, once known: where its folders are, for what is shown. */
	readonly repository: Pick<Repository, 'root' | 'vmDir'> | null;
	backup(vm: string, options: BackupOptions): Promise<BackupPoint>;
	backups(vm: string, options?: BackupsOf): Promise<BackupPoint[]>;
	/** Where the VM's backups are, and the folders of other VMs of its name (after a call that bound it). */
	backupsFolder(vm: string): Binding | null;
	verify(vm: string, options: VerifyOptions & BackupsOf): Promise<PointVerdict[]>;
	bootTest(vm: string, options: Omit<BootTestOptions, 'pattern' | 'check'> & BackupsOf): Promise<BootTest>;
	receipts(vm: string, options?: BackupsOf): Promise<Array<{file: string; receipt: Receipt | null; problem?: string}>>;
	prune(vm: string, options: PruneOptions & BackupsOf): Promise<PruneResult>;
	/** The retention of the VM's policy, with the policy's name; null retention when it sets none. */
	retentionOf(vm: string): Promise<{policy: string; retention: Retention | null}>;
	/** The configuration file, for a hint that asks to edit the policy there. */
	configFile(): Promise<string>;
	/** snapdeck's bitmaps on a VM, whether a backup still needs each; with `prune`, the stale ones removed. */
	checkpoints(
		vm: string,
		options: {prune?: boolean; command: string},
	): Promise<{checkpoints: CheckpointStatus[]; removed: string[]; left: string[]}>;
}

/** A point brought back: as a new VM or files, running at once, over the VM's own disks, or a file out of it. */
export interface Restores {
	restore(vm: string, options: RestoreOptions & BackupsOf): Promise<Restored>;
	restoreInstant(
		vm: string,
		options: InstantOptions & BackupsOf,
	): Promise<{vm: string; point: string; startedAfterMs: number}>;
	restoreInPlace(
		vm: string,
		options: BackupsOf & {
			point: string;
			command: string;
			confirm: (plan: Plan) => Promise<boolean>;
			signal?: AbortSignal;
			onEvent?: (event: PlanEvent) => void;
			now?: Date;
			force?: boolean;
		},
	): Promise<{plan: Plan; outcome: Outcome; snapshot: string}>;
	listFiles(vm: string, options: PointFilesOptions & BackupsOf): Promise<PointListing>;
	/** A point opened for browsing: one appliance for every folder until closed (the VM's backups locked meanwhile). */
	browseFiles(vm: string, options: Omit<PointFilesOptions, 'path'> & BackupsOf): Promise<PointBrowser>;
	extractFiles(vm: string, options: PointFilesOptions & BackupsOf & {to?: string}): Promise<Extracted>;
}

/** Copies of points on off-site targets (restic repositories): copy, list, restore, check, prune. */
export interface Offsite {
	/** The target a copy goes to when none is named, or why there is none. */
	offsiteTargetOf(vm: string): Promise<{target: ResticTarget; name: string} | {reason: string}>;
	copy(vm: string, target: ResticTarget, options: CopyOptions & BackupsOf): Promise<CopyResult>;
	remoteBackups(target: ResticTarget, vm: string, signal?: AbortSignal): Promise<ListedPoint[]>;
	restoreFrom(target: ResticTarget, vm: string, options: RemoteRestoreOptions): Promise<RemoteRestored>;
	verifyFrom(
		target: ResticTarget,
		vm: string,
		options: {readData?: string; signal?: AbortSignal; now?: Date; command: string},
	): Promise<RemoteVerdict>;
	planPruneFrom(target: ResticTarget, vm: string, retention: Retention, signal?: AbortSignal): Promise<RemotePrunePlan>;
	pruneFrom(
		target: ResticTarget,
		vm: string,
		plan: RemotePrunePlan,
		options: {signal?: AbortSignal; command: string},
	): Promise<void>;
	/** What this host knows of a VM's off-site copies. */
	offsiteState(vm: string): Promise<OffsiteState>;
}

/** Every VM's health under its policy. */
export interface Health {
	health(options: {
		now: Date;
		only?: readonly string[];
		checkImages?: boolean;
		concurrency?: number;
	}): Promise<VmHealth[]>;
}

/** What ran and what is due: the journal, the schedules, recovering what a kill left, and the locks of this process. */
export interface Jobs {
	journal(vm: string | null, limit?: number): Promise<JournalRecord[]>;
	schedules(vm: string, now: Date): Promise<ScheduledTask[]>;
	/** Runs every task the policies' schedules say is due on this connection (`snapdeck run`). */
	runScheduled(options: RunOptions): Promise<TaskRun[]>;
	recover(vm: string, options: Omit<PerformOptions, 'confirm' | 'dryRun'>): Promise<RecoverResult>;
	/** For a UI that must leave at once: every lock this process holds, released now. */
	releaseHeldLocks(): void;
}

/** The ports by name, as a command declares those it uses. */
export interface PortMap {
	readonly inventory: Inventory;
	readonly snapshots: Snapshots;
	readonly backups: Backups;
	readonly restores: Restores;
	readonly offsite: Offsite;
	readonly health: Health;
	readonly jobs: Jobs;
}

export type PortName = keyof PortMap;

/** The ports named, as one object (the session implements them all). */
export type PortsOf<Name extends PortName> = (Name extends PortName ? (port: PortMap[Name]) => void : never) extends (
	port: infer Both,
) => void
	? Both
	: never;

/** Every port: for the few places that use them all (the UI's app, the session factory). */
export type Ports = Inventory & Snapshots & Backups & Restores & Offsite & Health & Jobs;
