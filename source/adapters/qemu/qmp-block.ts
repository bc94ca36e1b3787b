import {z} from 'zod';
import {SnapdeckError} from '../../core/errors.js';
import {crashPoint} from '../exec.js';
import {assertOwnQemu, BlockView, dropDetachedNodes, namedNodes} from './block-view.js';
import {QmpError, type QmpClient} from './qmp-client.js';

const Jobs = z.array(
	z.looseObject({
		id: z.string(),
		type: z.string().optional(),
		status: z.string(),
		'current-progress': z.number(),
		'total-progress': z.number(),
		error: z.string().optional(),
	}),
);

export interface JobOptions {
	readonly signal?: AbortSignal;
	readonly onProgress?: (fraction: number) => void;
	/** Bytes done and to do, summed over the jobs, as query-jobs reports them. */
	readonly onBytes?: (done: number, total: number) => void;
	/** Active commit and mirror wait in READY until told to complete (pivot). */
	readonly pivot?: boolean;
	/** How long one progress read may wait for QEMU's answer; three in a row unanswered fail the job (default 30 s). */
	readonly monitorTimeoutMs?: number;
}

/** Reads of a job's progress that may fail in a row (no answer, or an answer snapdeck cannot use) before the job is given up. */
const FAILED_READS = 3;

/** Test hook for recovery from a job a killed snapdeck left in QEMU: SNAPDECK_CRASH_AT=job:KIND (test/e2e/qemu-leftovers.test.ts). */
const crashInJob = (kind: string) => crashPoint(`job:${kind}`);

let jobCounter = 0;
export const newJobId = (kind: string) => `snapdeck-${kind}-${process.pid}-${++jobCounter}`;

const Exports = z.array(z.looseObject({id: z.string()}));

/** The node a backup job writes to, added before the job and deleted after it. */
export const BACKUP_TARGET_PREFIX = 'snapdeck-target-';

/**
 * Finds what a snapdeck that died (kill -9, a lost host) left in a running QEMU: its block jobs
 * (a commit waiting in READY, a backup still copying) and its backup target nodes, which make the
 * next job fail ("Need a root block node", "Duplicate nodes"). Each job is cancelled (QEMU then
 * leaves the chain as it was; the pending plan, if any, runs the step again) and each node
 * deleted. Called, under the VM's lock, before any live operation, with the view of QEMU the
 * caller read (a new one is read once something was removed). Returns what it removed.
 */
export async function clearLeftovers(client: QmpClient, read = new BlockView(client)): Promise<string[]> {
	const removed: string[] = [];
	const leftover = (id: string) => id.startsWith('snapdeck-') && !id.includes(`-${process.pid}-`);
	// An audit's exports and NBD server, before the overlays they serve.
	// A QEMU without exports refuses the command (an error of its own): none. An answer of another shape is no QEMU's.
	const exports = await client
		.execute('query-block-exports', undefined, {schema: Exports})
		.catch((error: unknown) => (error instanceof QmpError ? [] : Promise.reject(error)));
	for (const found of exports.filter(candidate => candidate.id.startsWith('snapdeck-'))) {
		await client.execute('block-export-del', {id: found.id}).catch(() => undefined);
		removed.push(`export ${found.id}`);
	}
	if (exports.length > 0) await client.execute('nbd-server-stop').catch(() => undefined);
	for (const job of (await client.execute('query-jobs', undefined, {schema: Jobs})).filter(candidate =>
		leftover(candidate.id),
	)) {
		await endJob(client, job.id);
		removed.push(`job ${job.id} (${job.type ?? 'block job'}, ${job.status})`);
	}
	// Called before this process adds targets of its own: any there are a dead snapdeck's.
	const nodes = await namedNodes(
		removed.length > 0 ? new BlockView(client) : read,
		candidate =>
			candidate['node-name'].startsWith(BACKUP_TARGET_PREFIX) || candidate['node-name'].startsWith('snapdeck-fleece-'),
	);
	for (const node of nodes) {
		await client.execute('blockdev-del', {'node-name': node['node-name']}).catch(() => undefined);
		removed.push(`node ${node['node-name']} (${node.path})`);
	}
	removed.push(...(await dropDetachedNodes(removed.length > 0 ? new BlockView(client) : read)));
	return removed;
}

/**
 * Readies a running QEMU for a live operation: refuses one that is not the VM's own (see
 * assertOwnQemu), clears what a killed snapdeck left in it. Returns the view of its block layer
 * as it is then: the one read for those checks, unless they changed something.
 */
export async function readyView(client: QmpClient, folder: string, vm: string): Promise<BlockView> {
	const read = new BlockView(client);
	await assertOwnQemu(read, folder, vm);
	return (await clearLeftovers(client, read)).length === 0 ? read : new BlockView(client);
}

/** Ends a QEMU job, whatever its state (cancelled where it runs, dismissed once concluded), and waits until it is gone. */
export async function endJob(client: QmpClient, id: string): Promise<void> {
	const find = async () =>
		(await client.execute('query-jobs', undefined, {schema: Jobs})).find(candidate => candidate.id === id);
	const job = await find();
	if (!job) return;
	if (job.status !== 'concluded' && job.status !== 'null') {
		await client
			.execute('block-job-cancel', {device: id, force: true})
			.catch(() => client.execute('job-cancel', {id}).catch(() => undefined));
	}
	for (let waited = 0; ; waited += 50) {
		const now = await find();
		if (!now) return;
		if (now.status === 'concluded') {
			await client.execute('job-dismiss', {id}).catch(() => undefined);
			return;
		}
		if (waited > 30_000)
			throw new SnapdeckError(
				'failed',
				`QEMU did not end the job ${id} (${now.status})`,
				'stop the VM and start it again, then run the command again',
			);
		await new Promise(resolve => setTimeout(resolve, 50));
	}
}

/**
 * Starts a job with `start(id)` and follows it to the end: progress from query-jobs, a pivot when
 * it is READY (if asked), block-job-cancel when `signal` aborts. Rejects when the job fails or is
 * cancelled; QEMU then leaves the chain as it was.
 */
export function runJob(
	client: QmpClient,
	kind: string,
	start: (id: string) => Promise<unknown>,
	options: JobOptions = {},
): Promise<void> {
	return runJobs(client, kind, 1, ids => start(ids[0]!), options);
}

/** Jobs started together, until each has ended: `finished` settles then, rejected with the first failure. */
function jobsEnding(ids: readonly string[]) {
	const pending = new Set(ids);
	let failure: Error | null = null;
	let settle!: {resolve: () => void; reject: (error: Error) => void};
	const finished = new Promise<void>((resolve, reject) => {
		settle = {resolve, reject};
	});
	const ended = (id: string, error: Error | null) => {
		if (!pending.delete(id)) return;
		failure ??= error;
		if (pending.size > 0) return;
		if (failure) settle.reject(failure);
		else settle.resolve();
	};
	return {pending, finished, ended};
}

/**
 * Follows the jobs through QEMU's events: a pivot when one is READY (if asked), and its end when
 * it is cancelled, completed or (a job that is not a block job) concluded. Returns the unsubscribe.
 */
function followJobEvents(
	client: QmpClient,
	kind: string,
	ending: ReturnType<typeof jobsEnding>,
	options: JobOptions,
	cancelled: () => boolean,
): () => void {
	const {pending, ended} = ending;
	return client.onEvent(event => {
		const data = event.data ?? {};
		const id = [data['id'], data['device']].find(
			(candidate): candidate is string => typeof candidate === 'string' && pending.has(candidate),
		);
		if (id === undefined) return;
		if (event.event === 'BLOCK_JOB_READY' && options.pivot) {
			crashInJob(kind); // before the pivot: a short job can be READY before its start is acknowledged
			client.execute('job-complete', {id}).catch(error => ended(id, error as Error));
		}
		if (event.event === 'BLOCK_JOB_CANCELLED') ended(id, new SnapdeckError('failed', `${kind} was cancelled`));
		if (event.event === 'BLOCK_JOB_COMPLETED')
			ended(
				id,
				typeof data['error'] === 'string'
					? new SnapdeckError('failed', `${kind} failed in QEMU: ${data['error']}`)
					: null,
			);
		if (event.event === 'JOB_STATUS_CHANGE' && data['status'] === 'concluded') {
			// Jobs that are not block jobs (snapshot-save/load) end here; read why, then dismiss.
			client.execute('query-jobs', undefined, {schema: Jobs}).then(
				async jobs => {
					const job = jobs.find(candidate => candidate.id === id);
					await client.execute('job-dismiss', {id}).catch(() => undefined);
					if (job?.error) ended(id, new SnapdeckError('failed', `${kind} failed in QEMU: ${job.error}`));
					else ended(id, cancelled() ? new SnapdeckError('failed', `${kind} was cancelled`) : null);
				},
				error => ended(id, error as Error),
			);
		}
	});
}

/**
 * Reads the jobs' progress from query-jobs, summed over them, once QEMU lists them all. A job
 * QEMU stopped listing without an event of its end (a monitor that lost it, or one that is not
 * QEMU's) is ended as failed at the second read that misses it: waiting for its event would wait
 * forever. (A job that ends is said so in an event before a later query-jobs stops listing it.)
 */
function jobProgress(client: QmpClient, kind: string, ending: ReturnType<typeof jobsEnding>, options: JobOptions) {
	const ids = [...ending.pending];
	const missed = new Map<string, number>();
	let started = false;
	// One read at a time: a monitor that stops answering is not sent a new query every tick.
	let reading = false;
	let failures = 0;
	const failed = () => {
		if (++failures < FAILED_READS) return;
		for (const id of ending.pending)
			ending.ended(
				id,
				new SnapdeckError(
					'failed',
					`${kind}: QEMU's monitor stopped answering (${FAILED_READS} reads of job ${id} in a row got no usable answer)`,
					"check that the VM's QEMU still runs and is not stuck; then snapdeck recover VM finishes or undoes the change",
				),
			);
	};
	const read = async () => {
		if (reading) return;
		reading = true;
		await client
			.execute('query-jobs', undefined, {schema: Jobs, timeoutMs: options.monitorTimeoutMs ?? 30_000})
			.then(jobs => {
				failures = 0;
				const ours = jobs.filter(job => ids.includes(job.id));
				const total = Math.max(
					0,
					ours.reduce((sum, job) => sum + job['total-progress'], 0),
				);
				// What QEMU says it has done, never reported below nothing nor past the whole.
				const done = Math.min(
					total,
					Math.max(
						0,
						ours.reduce((sum, job) => sum + job['current-progress'], 0),
					),
				);
				if (ours.length === ids.length && total > 0 && Number.isFinite(total)) {
					options.onProgress?.(done / total);
					options.onBytes?.(done, total);
				}
				if (!started) return;
				for (const id of ending.pending) {
					const misses = ours.some(job => job.id === id) ? 0 : (missed.get(id) ?? 0) + 1;
					missed.set(id, misses);
					if (misses >= 2)
						ending.ended(
							id,
							new SnapdeckError(
								'failed',
								`${kind} ended in QEMU without saying how: its monitor no longer lists job ${id}`,
								'nothing is taken as done; snapdeck tree shows the VM as it is',
							),
						);
				}
			}, failed);
		reading = false;
	};
	return {
		read,
		/** From now on a job QEMU does not list counts as a miss. */
		started: () => {
			started = true;
		},
	};
}

/**
 * `count` jobs that `start(ids)` starts together (one QMP transaction), followed to the end of all
 * of them. Rejects with the first failure once every job has ended.
 */
export async function runJobs(
	client: QmpClient,
	kind: string,
	count: number,
	start: (ids: string[]) => Promise<unknown>,
	options: JobOptions = {},
): Promise<void> {
	const ids = Array.from({length: count}, () => newJobId(kind));
	const jobs = jobsEnding(ids);
	let cancelled = false;
	const unsubscribe = followJobEvents(client, kind, jobs, options, () => cancelled);
	const onAbort = () => {
		cancelled = true;
		for (const id of jobs.pending)
			client
				.execute('block-job-cancel', {device: id, force: true})
				.catch(() => client.execute('job-cancel', {id}).catch(() => undefined));
	};
	const progress = jobProgress(client, kind, jobs, options);
	const poll = setInterval(progress.read, 250);
	try {
		options.signal?.throwIfAborted();
		options.signal?.addEventListener('abort', onAbort, {once: true});
		await start(ids);
		progress.started();
		crashInJob(kind);
		void progress.read();
		await Promise.race([
			jobs.finished,
			client.closed().then(reason => Promise.reject(new SnapdeckError('failed', `${kind} stopped: ${reason}`))),
		]);
		options.onProgress?.(1);
	} finally {
		clearInterval(poll);
		options.signal?.removeEventListener('abort', onAbort);
		unsubscribe();
	}
}

const Status = z.looseObject({running: z.boolean(), status: z.string()});

/**
 * Puts everything QEMU caches on disk. After a block job QEMU may already have rewritten an image
 * header (a new backing file) while the copied clusters' qcow2 tables are still only in its
 * cache: a host crash then, with the old backing file deleted, would lose them. A stop flushes
 * every block device (bdrv_flush_all); a running guest is resumed at once.
 */
export async function flushAll(client: QmpClient): Promise<void> {
	const status = await client.execute('query-status', undefined, {schema: Status});
	if (!status.running) {
		throw new SnapdeckError(
			'refused',
			`the VM is ${status.status}, so QEMU cannot be made to flush the merged images`,
			'resume the VM, then run snapdeck recover',
		);
	}
	await client.execute('stop');
	await client.execute('cont');
}
