import type {VmState, VmSummary} from '../core/model.js';
import type {OperationStore, Plan, StepExecutor} from '../core/plan.js';
import type {QmpClient} from './local/qmp-client.js';

/** What an adapter can do; the service and UI offer only what is declared here. */
export interface Capabilities {
	readonly externalSnapshots: boolean;
	readonly internalSnapshots: boolean;
	readonly memorySnapshots: boolean;
	/** Snapshot, revert and merge while the VM runs. */
	readonly liveOperations: boolean;
}

export interface Inspection {
	readonly state: VmState;
	/** What is wrong with the VM's images or metadata; any entry blocks every change. */
	readonly problems: readonly string[];
	/** What looks off but blocks nothing (an overlay no snapshot knows); for the operator and health checks. */
	readonly findings: readonly string[];
}

/**
 * Where a backup reads a VM's disks: a QMP endpoint (the VM's own QEMU, or a qemu-storage-daemon on
 * a stopped VM's images) and each disk's active node there. Held under the VM's lock; close() lets go.
 */
export interface BackupSource {
	readonly running: boolean;
	readonly client: QmpClient;
	readonly disks: readonly {readonly target: string; readonly node: string; readonly virtualSize: number}[];
	/** The VM's definition as the adapter keeps it, recorded with each backup point. */
	readonly definition: unknown;
	close(): Promise<void>;
}

/** One hypervisor connection. Every adapter (local, libvirt, ...) implements this. */
export interface Hypervisor {
	readonly uri: string;
	readonly capabilities: Capabilities;
	list(): Promise<VmSummary[]>;
	inspect(vm: string): Promise<Inspection>;
	/** Takes the VM's lock (one operation per VM at a time); resolves to its release. */
	lock(vm: string, command: string): Promise<() => Promise<void>>;
	/** Refuses, with reasons, a plan the VM's images or storage cannot take (corruption, free space). */
	preflight(inspection: Inspection, plan: Plan): Promise<void>;
	/** The executor for the VM as it is now (stopped or running). */
	executor(inspection: Inspection): StepExecutor;
	operations(vm: string): OperationStore;
	/** Backups, where the adapter can serve the VM's disks over QMP. */
	backupSource?(vm: string): Promise<BackupSource>;
	/**
	 * Creates a new VM `name` from a backup: `definition` as the point recorded it, each disk's image
	 * written by `write(disk, path)` where the adapter wants it. Resolves to the images by disk.
	 */
	restoreVm?(name: string, definition: unknown, disks: readonly string[], write: (disk: string, target: string) => Promise<void>): Promise<Record<string, string>>;
	/** Power, where the adapter can start and stop VMs itself. */
	start?(vm: string): Promise<void>;
	/** Resolves false when the VM was not running. */
	stop?(vm: string): Promise<boolean>;
}
