import {randomBytes} from 'node:crypto';
import {SnapdeckError} from '../core/errors.js';
import {declaresStep, JOB_KINDS, type JobKind} from '../core/job-kinds.js';
import {describePendingJob, type Debris, type JobStore, type JournalEntry, type PendingJob} from '../core/plan.js';
import type {JobContext} from '../core/progress.js';

/** A VM-wide lock: taken with the job's command as its holder, given back by what it returns. */
export type Lock = (command: string) => Promise<() => Promise<void>>;

/** What makes work folders and removes leftovers: the runner decides when, these how (adapters/state/work-folder.ts, the adapters). */
export interface DebrisHandlers {
	/** The folder `parent` really is (links resolved), where a work folder is recorded and made. */
	realFolder(parent: string): Promise<string>;
	/** Makes the work folder `parent/name` holding `token`; refuses a parent that is not a real folder. */
	makeFolder(parent: string, name: string, token: string): Promise<string>;
	/**
	 * Removes what a job registered, where it is what that job made (its token matches): says what
	 * it removed, and what it left and why (a leftover that does not match is never touched).
	 * `explicit`: the operator asked for it (`snapdeck recover`), so what takes long is finished too
	 * (an instant restore's stream); otherwise such a leftover is `pending`, and its record stays.
	 */
	remove(
		job: PendingJob,
		debris: Debris,
		explicit: boolean,
	): Promise<{removed?: string; left?: string; pending?: string}>;
}

/** Where a job records itself while it runs, and how one a kill left behind is recovered. */
export interface JobRecord {
	readonly store: JobStore;
	/** The VM, as records and refusals name it. */
	readonly vm: string;
	/** What the job will work on, when known before it begins (a rerun of a half-done job is matched by it). */
	readonly subject?: string;
	readonly debris: DebrisHandlers;
	/** Removes what a killed job left beyond its debris (partial points); returns what it removed. */
	readonly recoverMore?: (left: PendingJob) => Promise<string[]>;
	/** This process's identity, for its own record: its host and start time. */
	readonly self: {readonly host: string; readonly started: number | null};
	/**
	 * The job may run without a record where none can be written (verify of a full or read-only
	 * repository): it then makes nothing a kill could leave (it asks for no work folder).
	 */
	readonly optional?: boolean;
}

export interface Job<T> {
	/** What kind of job it is (core/job-kinds.ts): its journal action and the steps it may mark. */
	readonly kind: JobKind;
	/** How the job names itself in its locks and journal. */
	readonly command: string;
	/** Taken in this order before the work begins, given back in reverse after it ends. */
	readonly locks: readonly Lock[];
	readonly journal: (entry: Omit<JournalEntry, 'time' | 'vm'>) => Promise<void>;
	readonly signal?: AbortSignal;
	/** Kept while the job runs (see PendingJob); a job without one must make nothing a kill could strand. */
	readonly record?: JobRecord;
	/** The work; it calls begin() once it is about to change something. */
	readonly run: (context: JobContext) => Promise<T>;
	/** The journal's words for a job that ended. */
	readonly describe?: (result: T) => string;
	/** A job that ran to its end and found what it tested wanting (a boot test that did not boot): journalled as failed. */
	readonly failed?: (result: T) => boolean;
}

/** What recovering a left job did: what it removed, and what it found but left alone (with why). */
export interface Recovered {
	readonly removed: string[];
	readonly untouched: string[];
	/** What only an explicit recover finishes (the record stays until then). */
	readonly pending: string[];
}

/** Removes every leftover a record registered, then (where given) what else the job left. */
async function removeDebris(record: JobRecord, job: PendingJob, explicit: boolean): Promise<Recovered> {
	const removed: string[] = [];
	const untouched: string[] = [];
	const pending: string[] = [];
	for (const debris of job.debris) {
		const outcome = await record.debris.remove(job, debris, explicit);
		if (outcome.removed) removed.push(outcome.removed);
		if (outcome.left) untouched.push(outcome.left);
		if (outcome.pending) pending.push(outcome.pending);
	}
	if (record.recoverMore) removed.push(...(await record.recoverMore(job)));
	return {removed, untouched, pending};
}

/**
 * What a killed job left, recovered by a job that holds the same locks now: its leftovers removed
 * where they are what it made, the recovery journalled, its record cleared. A job left half done
 * is not cleared behind the operator's back: only the same job run again (which finishes it) or
 * `recover` (the operator has seen it) goes past it.
 */
export async function recoverJob(
	record: JobRecord,
	left: PendingJob,
	journal: Job<unknown>['journal'],
	acknowledged: boolean,
): Promise<Recovered> {
	const rerun = left.subject !== null && left.subject === record.subject;
	if (left.halfDone !== null && !acknowledged && !rerun) {
		throw new SnapdeckError(
			'interrupted',
			describePendingJob(record.vm, left),
			`do as it says, then run 'snapdeck recover ${record.vm}' to clear it`,
		);
	}
	const outcome = await removeDebris(record, left, acknowledged);
	const words = [
		outcome.removed.length > 0 ? `removed what it left: ${outcome.removed.join(', ')}` : 'it left nothing to remove',
		...(outcome.untouched.length > 0 ? [`left alone: ${outcome.untouched.join('; ')}`] : []),
		...(outcome.pending.length > 0 ? [`still to do: ${outcome.pending.join('; ')}`] : []),
	];
	await journal({
		action: 'recover',
		snapshot: left.subject ?? '-',
		outcome: 'done',
		message: `${describePendingJob(record.vm, left)}; ${words.join('; ')}`,
	});
	// What only an explicit recover finishes keeps its record: health shows it, recover finds it.
	if (outcome.pending.length === 0) await record.store.clear(left.token);
	return outcome;
}

/** The records a kill left in a store, checked: one that is not a record snapdeck wrote refuses the job (nothing in it is acted on). */
export async function leftJobs(record: JobRecord): Promise<PendingJob[]> {
	const stored = await record.store.list();
	const damaged = stored.find(entry => 'damaged' in entry);
	if (damaged && 'damaged' in damaged) {
		throw new SnapdeckError(
			'failed',
			`${damaged.damaged} is not a job record snapdeck wrote (${damaged.problem}); nothing in it was acted on`,
			`look at it, and remove it if no snapdeck job runs there`,
			'damaged',
		);
	}
	return stored.flatMap(entry => ('record' in entry && entry.left ? [entry.record] : []));
}

const randomToken = () => randomBytes(8).toString('hex');

/**
 * SNAPDECK_CRASH_AT=KIND:STEP kills the process where a job of that kind marks that step (the fault
 * suite's hook). Read at each use: the startup snapshot loads this module with the build's environment.
 */
const crashAt = () => process.env['SNAPDECK_CRASH_AT'] ?? '';

/**
 * Runs a change that is not a Plan of steps (a backup, a restore, a start or a stop) the way
 * runPlan runs one: under its locks, recorded while it runs (records a kill left are recovered
 * first), journalled from the moment it begins (started, then done, failed or cancelled, with how
 * long it ran), cancelled through its signal. Whatever the job registered and did not remove is
 * removed when it ends; where it said it is half done (JobContext.halfDone), its record stays.
 */
/** The records a kill left recovered first, then this job's own written: null where it runs without one. */
async function openRecord<T>(job: Job<T>, token: string): Promise<PendingJob | null> {
	if (!job.record) return null;
	for (const left of await leftJobs(job.record)) await recoverJob(job.record, left, job.journal, false);
	const pending: PendingJob = {
		version: 2,
		token,
		action: JOB_KINDS[job.kind].action,
		command: job.command,
		subject: job.record.subject ?? null,
		startedAt: new Date().toISOString(),
		pid: process.pid,
		host: job.record.self.host,
		started: job.record.self.started,
		debris: [],
		halfDone: null,
	};
	try {
		await job.record.store.write(pending);
		return pending;
	} catch (error) {
		if (!job.record.optional) throw error;
		return null;
	}
}

/** A step of the job's kind, as core/job-kinds.ts declares it; where SNAPDECK_CRASH_AT names it, the process dies there (the fault suite's kills). */
function reachStep(kind: JobKind, name: string) {
	if (!declaresStep(kind, name))
		throw new Error(`internal: step '${name}' is not declared for ${kind} jobs (core/job-kinds.ts)`);
	if (crashAt() === `${kind}:${name}`) process.kill(process.pid, 'SIGKILL');
}

export async function runJob<T>(job: Job<T>): Promise<T> {
	const releases: Array<() => Promise<void>> = [];
	const {action} = JOB_KINDS[job.kind];
	try {
		for (const lock of job.locks) releases.push(await lock(job.command));
		const token = randomToken();
		let pending: PendingJob | null = await openRecord(job, token);
		const update = async (change: Partial<PendingJob>) => {
			if (pending === null || !job.record) return;
			pending = {...pending, ...change};
			await job.record.store.write(pending);
		};
		let begun: {subject: string; at: number} | null = null;
		const record = async (outcome: JournalEntry['outcome'], message?: string) => {
			if (begun === null) return;
			await job.journal({
				action,
				snapshot: begun.subject,
				outcome,
				...(message === undefined || message === '' ? {} : {message}),
				...(outcome === 'started' ? {} : {durationMs: Date.now() - begun.at}),
			});
		};
		const register = async (debris: Debris) => {
			if (!job.record || !pending)
				throw new Error(`internal: a ${job.kind} job without a record registered a leftover`);
			await update({debris: [...pending.debris, debris]});
		};
		let halfDone = false;
		let folders = 0;
		// What the job registered and did not remove (a failure's, or forgotten), removed now; false: the record stays for recover.
		const sweep = async () => {
			if (!job.record || !pending || pending.debris.length === 0) return true;
			const outcome = await removeDebris({...job.record, recoverMore: undefined}, pending, false);
			return outcome.untouched.length === 0 && outcome.pending.length === 0;
		};
		try {
			const result = await job.run({
				token,
				begin: async (subject, message) => {
					begun = {subject, at: Date.now()};
					await update({subject});
					await record('started', message);
				},
				workFolder: async (parent, label) => {
					if (!job.record || !pending)
						throw new Error(`internal: a ${job.kind} job without a record asked for a work folder`);
					if (!/^[a-z0-9-]{1,40}$/.test(label)) throw new Error(`internal: work folder label '${label}'`);
					const name = `.snapdeck-work-${token}-${label}${folders++ === 0 ? '' : `-${folders}`}`;
					const real = await job.record.debris.realFolder(parent);
					await register({kind: 'folder', parent: real, name});
					return job.record.debris.makeFolder(real, name, token);
				},
				registers: register,
				step: name => reachStep(job.kind, name),
				halfDone: async hint => {
					halfDone = true;
					await update({halfDone: hint});
				},
			});
			const swept = await sweep();
			await record(job.failed?.(result) ? 'failed' : 'done', job.describe?.(result));
			if (pending && swept) await job.record?.store.clear(token);
			return result;
		} catch (error) {
			const cancelled = job.signal?.aborted ?? false;
			await record(cancelled ? 'cancelled' : 'failed', error instanceof Error ? error.message : String(error)).catch(
				() => undefined,
			);
			// The job cleaned up after itself, and what it registered goes now; what it left half done stays on record for health and recover.
			if (pending && !halfDone && (await sweep().catch(() => false)))
				await job.record?.store.clear(token).catch(() => undefined);
			throw error;
		}
	} finally {
		for (const release of releases.reverse()) await release();
	}
}
