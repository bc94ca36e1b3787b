import {SnapdeckError} from '../core/errors.js';
import {describePendingJob, type JobStore, type JournalEntry, type PendingJob} from '../core/plan.js';
import type {JobContext} from '../core/progress.js';

/** A VM-wide lock: taken with the job's command as its holder, given back by what it returns. */
export type Lock = (command: string) => Promise<() => Promise<void>>;

/** Where a job records itself while it runs, and how one a kill left behind is recovered. */
export interface JobRecord {
	readonly store: JobStore;
	/** The VM, as records and refusals name it. */
	readonly vm: string;
	/** What the job will work on, when known before it begins (a rerun of a half-done job is matched by it). */
	readonly subject?: string;
	/** Removes what a killed job left (its `leaves`, a partial point); returns what it removed. */
	readonly recover: (left: PendingJob) => Promise<string[]>;
}

export interface Job<T> {
	readonly action: JournalEntry['action'];
	/** How the job names itself in its locks and journal. */
	readonly command: string;
	/** Taken in this order before the work begins, given back in reverse after it ends. */
	readonly locks: readonly Lock[];
	readonly journal: (entry: Omit<JournalEntry, 'time' | 'vm'>) => Promise<void>;
	readonly signal?: AbortSignal;
	/** Kept while the job runs, under its locks (see PendingJob); a job without one leaves nothing a kill could strand. */
	readonly record?: JobRecord;
	/** The work; it calls begin() once it is about to change something. */
	readonly run: (context: JobContext) => Promise<T>;
	/** The journal's words for a job that ended. */
	readonly describe?: (result: T) => string;
	/** A job that ran to its end and found what it tested wanting (a boot test that did not boot): journalled as failed. */
	readonly failed?: (result: T) => boolean;
}

/**
 * What a killed job left, recovered by the one holding its locks now (so its writer is gone):
 * its leftovers removed, the recovery journalled, its record cleared. A job left half done is
 * not cleared behind the operator's back: only the same job run again (which finishes it) or
 * `recover` (the operator has seen it) goes past it.
 */
export async function recoverJob(record: JobRecord, left: PendingJob, journal: Job<unknown>['journal'], acknowledged: boolean): Promise<string[]> {
	const rerun = left.subject !== null && left.subject === record.subject;
	if (left.halfDone !== null && !acknowledged && !rerun) {
		throw new SnapdeckError('interrupted', describePendingJob(record.vm, left), `do as it says, then run 'snapdeck recover ${record.vm}' to clear it`);
	}
	const removed = await record.recover(left);
	await journal({
		action: 'recover', snapshot: left.subject ?? '-', outcome: 'done',
		message: `${describePendingJob(record.vm, left)}; ${removed.length > 0 ? `removed what it left: ${removed.join(', ')}` : 'it left nothing to remove'}`,
	});
	await record.store.clear();
	return removed;
}

/**
 * Runs a change that is not a Plan of steps (a backup, a restore, a start or a stop) the way
 * runPlan runs one: under its locks, recorded while it runs (a record a kill left is recovered
 * first), journalled from the moment it begins (started, then done, failed or cancelled, with how
 * long it ran), cancelled through its signal. A job's own work leaves the repository or the VM as
 * it was when it fails, except where it said it is half done (JobContext.halfDone): that record stays.
 */
export async function runJob<T>(job: Job<T>): Promise<T> {
	const releases: Array<() => Promise<void>> = [];
	try {
		for (const lock of job.locks) releases.push(await lock(job.command));
		let pending: PendingJob | null = null;
		const update = async (change: Partial<PendingJob>) => {
			if (pending === null || !job.record) return;
			pending = {...pending, ...change};
			await job.record.store.write(pending);
		};
		if (job.record) {
			const left = await job.record.store.read();
			if (left) await recoverJob(job.record, left, job.journal, false);
			pending = {action: job.action, command: job.command, subject: job.record.subject ?? null, startedAt: new Date().toISOString(), pid: process.pid, leaves: [], halfDone: null};
			await job.record.store.write(pending);
		}
		let begun: {subject: string; at: number} | null = null;
		const record = async (outcome: JournalEntry['outcome'], message?: string) => {
			if (begun === null) return;
			await job.journal({action: job.action, snapshot: begun.subject, outcome, ...(message === undefined || message === '' ? {} : {message}), ...(outcome === 'started' ? {} : {durationMs: Date.now() - begun.at})});
		};
		let halfDone = false;
		try {
			const result = await job.run({
				begin: async (subject, message) => {
					begun = {subject, at: Date.now()};
					await update({subject});
					await record('started', message);
				},
				leaves: async file => {
					if (pending && !pending.leaves.includes(file)) await update({leaves: [...pending.leaves, file]});
				},
				halfDone: async hint => {
					halfDone = true;
					await update({halfDone: hint});
				},
			});
			await record(job.failed?.(result) ? 'failed' : 'done', job.describe?.(result));
			if (pending) await job.record?.store.clear();
			return result;
		} catch (error) {
			const cancelled = job.signal?.aborted ?? false;
			await record(cancelled ? 'cancelled' : 'failed', error instanceof Error ? error.message : String(error)).catch(() => undefined);
			// The job cleaned up after itself; what it left half done stays on record for health and recover.
			if (pending && !halfDone) await job.record?.store.clear().catch(() => undefined);
			throw error;
		}
	} finally {
		for (const release of releases.reverse()) await release();
	}
}
