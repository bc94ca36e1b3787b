import type {Manifest} from './backup-manifest.js';
import type {VmDefinition} from './model.js';
import type {VmIdentity} from './identity.js';

/**
 * One step of a plan. Each names the files it reads, writes, creates and deletes, so a confirmation
 * can show exactly what will change, and carries enough to be executed by any adapter and
 * re-executed after a crash (every step is idempotent given the files it names).
 */
export type StepOperation =
	/** A new qcow2 overlay `file` on top of `backing`. */
	| {readonly op: 'create-overlay'; readonly disk: string; readonly file: string; readonly backing: string}
	/** A new internal snapshot `name` inside `file`. */
	| {
			readonly op: 'internal-create';
			readonly disk: string;
			readonly file: string;
			readonly name: string;
			readonly memory: boolean;
	  }
	/** Makes `file`'s own data the data of its internal snapshot `name` again. */
	| {readonly op: 'internal-apply'; readonly disk: string; readonly file: string; readonly name: string}
	| {readonly op: 'internal-delete'; readonly disk: string; readonly file: string; readonly name: string}
	/** A new image `target` holding what internal snapshot `name` of `source` holds, over `backing`. */
	| {
			readonly op: 'copy-internal';
			readonly disk: string;
			readonly source: string;
			readonly name: string;
			readonly target: string;
			readonly backing: string | null;
	  }
	/** Copies `top`'s data down into its backing file `base`; `top` itself is left intact. */
	| {readonly op: 'commit'; readonly disk: string; readonly top: string; readonly base: string}
	/**
	 * Points `file` at a new backing image. `copy` first copies into `file` whatever the old
	 * backing held that the new one does not (a stream up); without it only the header changes,
	 * which is right only when both backings read the same.
	 */
	| {
			readonly op: 'rebase';
			readonly disk: string;
			readonly file: string;
			readonly backing: string | null;
			readonly copy: boolean;
	  }
	| {readonly op: 'delete-image'; readonly disk: string; readonly file: string}
	/** Stops the running VM (a power-off: what the guest had not written to disk is lost). */
	| {readonly op: 'stop-vm'}
	/** Starts the VM again, the way it was started, on its (new) active images. */
	| {readonly op: 'start-vm'}
	/** Replaces the VM's metadata with `definition` in one atomic write. */
	| {readonly op: 'write-definition'; readonly definition: VmDefinition}
	/** Replaces a backup manifest in one atomic write; `rehash` names point files whose checksum and size are read then. */
	| {readonly op: 'write-manifest'; readonly manifest: Manifest; readonly rehash: readonly string[]};

export type Step = StepOperation & {
	/** One line an operator reads in the confirmation. */
	readonly summary: string;
	readonly reads: readonly string[];
	readonly writes: readonly string[];
	readonly creates: readonly string[];
	readonly deletes: readonly string[];
	/** Bytes this step copies (an upper bound where the exact figure is not known up front). */
	readonly bytes: number;
	/** Free space this step may consume. */
	readonly space: number;
	/** How this step is undone, or why it cannot be. */
	readonly undo: string;
};

export type ActionKind = 'take' | 'revert' | 'merge' | 'prune';

export interface Plan {
	readonly action: ActionKind;
	readonly vm: string;
	readonly snapshot: string;
	/** One sentence: what this plan does. */
	readonly summary: string;
	readonly steps: readonly Step[];
	readonly bytes: number;
	readonly space: number;
	/** What the operator loses by running this plan, named file by file; empty when nothing is. */
	readonly discards: readonly string[];
	readonly warnings: readonly string[];
}

export function makePlan(fields: Omit<Plan, 'bytes' | 'space'>): Plan {
	const bytes = fields.steps.reduce((sum, step) => sum + step.bytes, 0);
	// Deletions come last and free space; what must be free up front is the peak along the way.
	let used = 0;
	let space = 0;
	for (const step of fields.steps) {
		used += step.space;
		space = Math.max(space, used);
	}
	return {...fields, bytes, space};
}

/** Every file a plan touches, for the confirmation dialog and for recovery checks. */
export function planFiles(plan: Plan): {creates: string[]; writes: string[]; deletes: string[]} {
	const collect = (pick: (step: Step) => readonly string[]) => [...new Set(plan.steps.flatMap(pick))];
	return {
		creates: collect(step => step.creates),
		writes: collect(step => step.writes),
		deletes: collect(step => step.deletes),
	};
}

/** Progress of a running plan, as the UI and `--json` see it. */
export type PlanEvent =
	| {
			readonly type: 'step';
			readonly index: number;
			readonly total: number;
			readonly summary: string;
			readonly resumed: boolean;
	  }
	| {
			readonly type: 'progress';
			readonly index: number;
			readonly fraction: number;
			readonly bytesDone: number;
			readonly bytesTotal: number;
			/** Bytes per second since the step began. */
			readonly rate: number;
			/** Seconds left at that rate, or null before it is known. */
			readonly eta: number | null;
	  }
	| {readonly type: 'done'; readonly index: number};

export interface StepContext {
	/** True when this step was started before and a crash interrupted it: finish it idempotently. */
	readonly resuming: boolean;
	readonly signal?: AbortSignal;
	readonly onProgress: (fraction: number) => void;
}

/** Carries out plan steps on one VM; the local adapter has one for stopped VMs, QMP brings one for running VMs. */
export interface StepExecutor {
	execute(step: Step, context: StepContext): Promise<void>;
	/** Removes what an additive step (new file, new internal snapshot) added, if it is there. */
	rollback(step: Step): Promise<void>;
	/** Lets go of what the executor holds open (a QMP connection). */
	close?(): Promise<void>;
}

export type StepOp = Step['op'];
export type StepOf<Op extends StepOp> = Extract<Step, {readonly op: Op}>;
export type StepHandler<Op extends StepOp> = (step: StepOf<Op>, context: StepContext) => Promise<void>;
/** How an executor carries out each kind of step it knows, one handler per kind. */
export type StepHandlers<Op extends StepOp = StepOp> = {readonly [Kind in Op]: StepHandler<Kind>};

/**
 * Runs `step` by its kind's handler. An executor declares StepHandlers (every kind), so a new
 * step kind that an executor does not handle is a compile error there, not a runtime surprise.
 */
export function handleStep(handlers: Partial<StepHandlers>, step: Step, context: StepContext): Promise<void> {
	const handler = handlers[step.op] as StepHandler<StepOp> | undefined;
	if (!handler) throw new Error(`internal: no handler for a ${step.op} step`);
	return handler(step as never, context);
}

/** Every step kind refused with `why` (for an executor that only knows some). */
export const refuseSteps = <Op extends StepOp>(ops: readonly Op[], why: (op: StepOp) => Error): StepHandlers<Op> =>
	Object.fromEntries(
		ops.map(op => [
			op,
			async () => {
				throw why(op);
			},
		]),
	) as unknown as StepHandlers<Op>;

/** A plan that has started and not yet finished, kept on disk so a crash can be resumed. */
export interface PendingOperation {
	readonly plan: Plan;
	/** Steps 0..done-1 have completed. */
	readonly done: number;
	/** The step that was under way, if any. */
	readonly started: number | null;
	readonly command: string;
	readonly startedAt: string;
}

/**
 * Something a job makes that a kill would leave behind, recorded in the job's record before it is
 * made, so that `recover` can find it; and made so that it can be told apart from anything else
 * (a work folder carries the job's token in its name and in a file inside; a throwaway VM carries
 * it in its name or definition). Recover removes a leftover only where both match.
 */
export type Debris =
	/** A work folder `parent/name` (name `.snapdeck-work-TOKEN-LABEL`) holding a `.snapdeck-job` file with the token. */
	| {readonly kind: 'folder'; readonly parent: string; readonly name: string}
	/** A throwaway VM (a boot test's) on `connection`, named `name`. */
	| {readonly kind: 'throwaway'; readonly connection: string; readonly name: string}
	/**
	 * An instant restore's mark in the repository (`marker`: REPO/VM/.snapdeck/instant/NAME.json),
	 * which holds prune off the point while VM `vm` on `connection` reads it: it goes once that VM
	 * reads it no more (its stream finished, or it was never made).
	 */
	| {readonly kind: 'instant'; readonly connection: string; readonly vm: string; readonly marker: string};

/**
 * A job that is not a plan (a backup, a restore, a copy, a boot test) while it runs: written when
 * it begins, removed when it ends, however it ends. One whose process is gone names a job that
 * was killed: what it registered (its debris) is removed by `recover` or the next job.
 */
export interface PendingJob {
	readonly version: 2;
	/** Random, one per job: what its work folders and throwaway VMs carry, and what recover matches. */
	readonly token: string;
	readonly action: JournalEntry['action'];
	readonly command: string;
	/** The point or snapshot it works on, once it has begun. */
	readonly subject: string | null;
	readonly startedAt: string;
	readonly pid: number;
	/** The host it runs on: a process of another host is never judged gone. */
	readonly host: string;
	/** The process's start time (clock ticks since boot), so a reused pid is not taken for it; null where unknown. */
	readonly started: number | null;
	/** What a kill would leave, registered before it was made (see JobContext.workFolder). */
	readonly debris: readonly Debris[];
	/** Set where a kill leaves the work half done: what the operator must do (see JobContext.halfDone). */
	readonly halfDone: string | null;
}

/** A record in a job store: a job's, with whether its process is gone; or a file that is not a record snapdeck wrote. */
export type StoredJob =
	{readonly record: PendingJob; readonly left: boolean} | {readonly damaged: string; readonly problem: string};

/** Where the records of the jobs on something (a VM's backups) are kept: one file per job. */
export interface JobStore {
	list(): Promise<StoredJob[]>;
	write(job: PendingJob): Promise<void>;
	clear(token: string): Promise<void>;
}

/** A job a kill left behind, in words. */
export const describePendingJob = (
	vm: string,
	job: Pick<PendingJob, 'action' | 'subject' | 'startedAt' | 'command' | 'pid' | 'halfDone'>,
) =>
	`a ${job.action}${job.subject === null ? '' : ` of ${job.subject}`} of ${vm} (started ${job.startedAt} by '${job.command}', pid ${job.pid}) did not end${job.halfDone === null ? '' : `: ${job.halfDone}`}`;

/**
 * Whether a plan asks for the VM's name to be typed, not just `y`: it discards data (a revert, a
 * merged snapshot, pruned points) or powers off a running VM.
 */
export const needsTypedConfirmation = (plan: Plan): boolean =>
	plan.discards.length > 0 || plan.steps.some(step => step.op === 'stop-vm');

export interface JournalEntry {
	readonly time: string;
	readonly vm: string;
	readonly action:
		| ActionKind
		| 'recover'
		| 'backup'
		| 'verify'
		| 'restore'
		| 'schedule'
		| 'checkpoints'
		| 'copy'
		| 'boot-test'
		| 'start'
		| 'stop'
		| 'extract'
		| 'adopt';
	readonly snapshot: string;
	readonly outcome: 'started' | 'done' | 'failed' | 'cancelled';
	readonly message?: string;
	readonly steps?: readonly string[];
	/** What the plan does, in one sentence (on 'started'). */
	readonly summary?: string;
	/** How long it ran (on 'done', 'failed', 'cancelled'). */
	readonly durationMs?: number;
	/** Which VM it is (core/identity.ts), where known: a VM of the same name on another host is another VM. */
	readonly identity?: VmIdentity;
}

/** One line of the central journal: a JournalEntry and who made the change, where. */
export interface JournalRecord extends JournalEntry {
	readonly user: string;
	readonly host: string;
	/** The connection (local:DIR, qemu:///system); "repository DIR" in lines of older snapdecks' backups. */
	readonly connection: string;
	/** For a job on a VM's backups: the repository. */
	readonly repository?: string;
}

/** Where a VM's pending operation and journal live. */
export interface OperationStore {
	readPending(): Promise<PendingOperation | null>;
	writePending(pending: PendingOperation): Promise<void>;
	clearPending(): Promise<void>;
	appendJournal(entry: JournalEntry): Promise<void>;
	/** Which repository each tag of this VM's backup bitmaps stands for, kept with the VM's state (see backup/checkpoints.ts). */
	readonly repositoryTags?: {
		read(): Promise<Record<string, string>>;
		remember(tag: string, root: string): Promise<void>;
	};
}

/** The snapshot a take plan records, as it will be written. */
export function takenSnapshot(plan: Plan) {
	if (plan.action !== 'take') return undefined;
	for (const step of plan.steps) {
		if (step.op === 'write-definition')
			return step.definition.snapshots.find(snapshot => snapshot.name === plan.snapshot);
	}
	return undefined;
}

/**
 * Runs a plan's steps under the pending record and the journal (jobs/run-plan.ts, given by the
 * service): how the backup layer runs its prune plans without importing the runner; `resume`
 * carries on an interrupted one.
 */
export type PlanRunner = (
	plan: Plan,
	executor: StepExecutor,
	store: OperationStore,
	resume?: PendingOperation,
) => Promise<void>;
