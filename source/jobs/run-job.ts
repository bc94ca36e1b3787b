import type {JournalEntry} from '../core/plan.js';
import type {JobContext} from '../core/progress.js';

/** A VM-wide lock: taken with the job's command as its holder, given back by what it returns. */
export type Lock = (command: string) => Promise<() => Promise<void>>;

export interface Job<T> {
	readonly action: JournalEntry['action'];
	/** How the job names itself in its locks and journal. */
	readonly command: string;
	/** Taken in this order before the work begins, given back in reverse after it ends. */
	readonly locks: readonly Lock[];
	readonly journal: (entry: Omit<JournalEntry, 'time' | 'vm'>) => Promise<void>;
	readonly signal?: AbortSignal;
	/** The work; it calls begin() once it is about to change something. */
	readonly run: (context: JobContext) => Promise<T>;
	/** The journal's words for a job that ended. */
	readonly describe?: (result: T) => string;
	/** A job that ran to its end and found what it tested wanting (a boot test that did not boot): journalled as failed. */
	readonly failed?: (result: T) => boolean;
}

/**
 * Runs a change that is not a Plan of steps (a backup, a restore, a start or a stop) the way
 * runPlan runs one: under its locks, journalled from the moment it begins (started, then done,
 * failed or cancelled, with how long it ran), cancelled through its signal. A job's own work
 * leaves the repository or the VM as it was when it fails; a crash leaves what the next run of
 * it cleans up (a partial point, a partial restore file), as each job documents.
 */
export async function runJob<T>(job: Job<T>): Promise<T> {
	const releases: Array<() => Promise<void>> = [];
	try {
		for (const lock of job.locks) releases.push(await lock(job.command));
		let begun: {subject: string; at: number} | null = null;
		const record = async (outcome: JournalEntry['outcome'], message?: string) => {
			if (begun === null) return;
			await job.journal({action: job.action, snapshot: begun.subject, outcome, ...(message === undefined ? {} : {message}), ...(outcome === 'started' ? {} : {durationMs: Date.now() - begun.at})});
		};
		try {
			const result = await job.run({
				begin: async (subject, message) => {
					begun = {subject, at: Date.now()};
					await record('started', message);
				},
			});
			await record(job.failed?.(result) ? 'failed' : 'done', job.describe?.(result));
			return result;
		} catch (error) {
			const cancelled = job.signal?.aborted ?? false;
			await record(cancelled ? 'cancelled' : 'failed', error instanceof Error ? error.message : String(error)).catch(() => undefined);
			throw error;
		}
	} finally {
		for (const release of releases.reverse()) await release();
	}
}
