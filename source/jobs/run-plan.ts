import {isChangedNothing, SnapdeckError} from '../core/errors.js';
import {byteProgress} from '../core/progress.js';
import type {OperationStore, PendingOperation, Plan, PlanEvent, StepExecutor} from '../core/plan.js';

export interface RunOptions {
	readonly signal?: AbortSignal;
	readonly onEvent?: (event: PlanEvent) => void;
	readonly command: string;
	/** Continue an interrupted operation instead of starting `plan` afresh. */
	readonly resume?: PendingOperation;
	/** Monotonic clock in milliseconds; tests pass their own. */
	readonly now?: () => number;
}

/** Steps that only add (a new file, a new snapshot-table entry): undone by removing what they added. */
const ADDITIVE = new Set(['create-overlay', 'copy-internal', 'internal-create']);

/**
 * Test hook for crash safety: SNAPDECK_CRASH_AT=after:N kills the process right after step N
 * (1-based) completes; during:N kills it once step N is recorded as started, before it runs.
 */
const crashIf = (when: string, index: number) => {
	// Read at each step, never at load: the startup snapshot loads this module with the build's environment.
	const [crashWhen, crashStep] = (process.env['SNAPDECK_CRASH_AT'] ?? ':0').split(':');
	if (crashWhen === when && Number(crashStep) === index + 1) process.kill(process.pid, 'SIGKILL');
};

/**
 * Runs a plan's steps in order. Before each step the pending operation is written atomically, so
 * a crash at any point leaves a record of exactly where it stopped; `resume` carries on from there.
 */
export async function runPlan(
	plan: Plan,
	executor: StepExecutor,
	store: OperationStore,
	options: RunOptions,
): Promise<void> {
	const now = options.now ?? (() => performance.now());
	const base: PendingOperation = options.resume ?? {
		plan,
		done: 0,
		started: null,
		command: options.command,
		startedAt: new Date().toISOString(),
	};
	const journal = planJournal(plan, store, options);

	await journal('started');
	let pending = base;
	try {
		for (let index = base.done; index < plan.steps.length; index++) {
			const step = plan.steps[index]!;
			const resuming = base.started === index;
			pending = {...pending, started: index};
			await store.writePending(pending);
			crashIf('during', index);
			options.signal?.throwIfAborted();
			options.onEvent?.({type: 'step', index, total: plan.steps.length, summary: step.summary, resumed: resuming});
			const progress = byteProgress(options.onEvent, index, now);
			await executor.execute(step, {
				resuming,
				signal: options.signal,
				onProgress: fraction => progress(Math.round(step.bytes * fraction), step.bytes, fraction),
			});
			pending = {...pending, done: index + 1, started: null};
			await store.writePending(pending);
			options.onEvent?.({type: 'done', index});
			crashIf('after', index);
		}
	} catch (error) {
		throw await failed(error, {plan, executor, store, signal: options.signal, journal, pending});
	} finally {
		await executor.close?.();
	}
	await store.clearPending();
	await journal('done');
}

type Journal = (outcome: 'started' | 'done' | 'failed' | 'cancelled', message?: string) => Promise<void>;

/** The plan's lines in the journal: what it will do when it starts, and how long it took when it ends. */
function planJournal(plan: Plan, store: OperationStore, options: RunOptions): Journal {
	const began = Date.now();
	return (outcome, message) =>
		store.appendJournal({
			time: new Date().toISOString(),
			vm: plan.vm,
			action: options.resume ? 'recover' : plan.action,
			snapshot: plan.snapshot,
			outcome,
			...(message === undefined ? {} : {message}),
			...(outcome === 'started'
				? {summary: plan.summary, steps: plan.steps.map(step => step.summary)}
				: {durationMs: Date.now() - began}),
		});
}

/** What a failed run knows: its plan, where it writes, and the pending record as it stood when the step failed. */
interface Failure {
	readonly plan: Plan;
	readonly executor: StepExecutor;
	readonly store: OperationStore;
	readonly signal: AbortSignal | undefined;
	readonly journal: Journal;
	readonly pending: PendingOperation;
}

/** Rolls back when only additions were made; otherwise leaves the pending record for recover. */
async function failed(
	error: unknown,
	{plan, executor, store, signal, journal, pending}: Failure,
): Promise<SnapdeckError> {
	const cancelled = signal?.aborted ?? false;
	const reached = pending.started ?? pending.done;
	const where = `step ${reached + 1} of ${plan.steps.length}`;
	const message = error instanceof Error ? error.message : String(error);
	// The failed step counts as done-and-undoable unless it was atomic and changed nothing.
	const touched = plan.steps.slice(0, isChangedNothing(error) ? reached : reached + 1);
	if (touched.every(step => ADDITIVE.has(step.op))) {
		// Only new files or new snapshot-table entries so far: undo them, and nothing has changed.
		for (const step of touched.reverse()) await executor.rollback(step);
		await store.clearPending();
		await journal('failed', `${where}: rolled back, nothing changed`);
		return new SnapdeckError(
			error instanceof SnapdeckError ? error.kind : 'failed',
			`${plan.action} of ${plan.vm} ${cancelled ? 'was cancelled' : 'failed'}, nothing was changed: ${message}`,
			error instanceof SnapdeckError ? error.hint : undefined,
			cancelled ? 'cancelled' : error instanceof SnapdeckError ? error.code : undefined,
		);
	}
	await journal(cancelled ? 'cancelled' : 'failed', `${where}: ${message}`);
	return new SnapdeckError(
		'interrupted',
		`${plan.action} of ${plan.vm} ${cancelled ? 'was cancelled' : 'failed'} at ${where} (${plan.steps[reached]?.summary ?? ''}): ${message}`,
		plan.action === 'prune'
			? `every kept backup point still restores; run 'snapdeck prune ${plan.vm}' again to finish the prune`
			: `every other snapshot and the present state still read as before; run 'snapdeck recover ${plan.vm}' to finish the ${plan.action}`,
		cancelled ? 'cancelled' : 'stopped-part-way',
	);
}
