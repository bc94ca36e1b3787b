import path from 'node:path';
import {z} from 'zod';
import {SnapdeckError} from '../../core/errors.js';
import type {QmpClient} from './qmp-client.js';

const NamedNodes = z.array(z.looseObject({'node-name': z.string(), drv: z.string(), file: z.string()}));
const Blocks = z.array(z.looseObject({qdev: z.string().optional(), inserted: z.looseObject({'node-name': z.string(), file: z.string()}).optional()}));
const Jobs = z.array(z.looseObject({id: z.string(), status: z.string(), 'current-progress': z.number(), 'total-progress': z.number(), error: z.string().optional()}));

const JsonFilename = z.looseObject({file: z.looseObject({driver: z.literal('file'), filename: z.string()})});

/**
 * The image path of a node. Where a node's options differ from its image header (an overlay put
 * on an existing backing node), QEMU names it `json:{...}`; the path is its protocol child's.
 */
export function imagePath(filename: string): string {
	if (!filename.startsWith('json:')) return path.resolve(filename);
	const parsed = JsonFilename.safeParse(JSON.parse(filename.slice('json:'.length)));
	if (!parsed.success) throw new SnapdeckError('failed', `QEMU names an image in a way snapdeck does not know: ${filename.slice(0, 200)}`);
	return path.resolve(parsed.data.file.filename);
}

/** qcow2 nodes QEMU has open, by absolute file name. */
export async function qcow2Nodes(client: QmpClient): Promise<Map<string, string>> {
	const nodes = await client.execute('query-named-block-nodes', {flat: true}, {schema: NamedNodes});
	return new Map(nodes.filter(node => node.drv === 'qcow2').map(node => [imagePath(node.file), node['node-name']]));
}

/** Each guest disk's top node and its file, by disk target (vda, vdb, ...). */
export async function topNodes(client: QmpClient): Promise<Map<string, {node: string; file: string}>> {
	const blocks = await client.execute('query-block', undefined, {schema: Blocks});
	const tops = new Map<string, {node: string; file: string}>();
	for (const block of blocks) {
		const target = /^\/machine\/peripheral\/([^/]+)\/virtio-backend$/.exec(block.qdev ?? '')?.[1];
		if (target && block.inserted) tops.set(target, {node: block.inserted['node-name'], file: imagePath(block.inserted.file)});
	}
	return tops;
}

export interface JobOptions {
	readonly signal?: AbortSignal;
	readonly onProgress?: (fraction: number) => void;
	/** Bytes done and to do, summed over the jobs, as query-jobs reports them. */
	readonly onBytes?: (done: number, total: number) => void;
	/** Active commit and mirror wait in READY until told to complete (pivot). */
	readonly pivot?: boolean;
}

let jobCounter = 0;
export const newJobId = (kind: string) => `snapdeck-${kind}-${process.pid}-${++jobCounter}`;

/**
 * Starts a job with `start(id)` and follows it to the end: progress from query-jobs, a pivot when
 * it is READY (if asked), block-job-cancel when `signal` aborts. Rejects when the job fails or is
 * cancelled; QEMU then leaves the chain as it was.
 */
export function runJob(client: QmpClient, kind: string, start: (id: string) => Promise<unknown>, options: JobOptions = {}): Promise<void> {
	return runJobs(client, kind, 1, ids => start(ids[0]!), options);
}

/**
 * `count` jobs that `start(ids)` starts together (one QMP transaction), followed to the end of all
 * of them. Rejects with the first failure once every job has ended.
 */
export async function runJobs(client: QmpClient, kind: string, count: number, start: (ids: string[]) => Promise<unknown>, options: JobOptions = {}): Promise<void> {
	const ids = Array.from({length: count}, () => newJobId(kind));
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
	let cancelled = false;
	const unsubscribe = client.onEvent(event => {
		const data = event.data ?? {};
		const id = [data['id'], data['device']].find((candidate): candidate is string => typeof candidate === 'string' && pending.has(candidate));
		if (id === undefined) return;
		if (event.event === 'BLOCK_JOB_READY' && options.pivot) client.execute('job-complete', {id}).catch(error => ended(id, error as Error));
		if (event.event === 'BLOCK_JOB_CANCELLED') ended(id, new SnapdeckError('failed', `${kind} was cancelled`));
		if (event.event === 'BLOCK_JOB_COMPLETED') ended(id, typeof data['error'] === 'string' ? new SnapdeckError('failed', `${kind} failed in QEMU: ${data['error']}`) : null);
		if (event.event === 'JOB_STATUS_CHANGE' && data['status'] === 'concluded') {
			// Jobs that are not block jobs (snapshot-save/load) end here; read why, then dismiss.
			client.execute('query-jobs', undefined, {schema: Jobs}).then(async jobs => {
				const job = jobs.find(candidate => candidate.id === id);
				await client.execute('job-dismiss', {id}).catch(() => undefined);
				if (job?.error) ended(id, new SnapdeckError('failed', `${kind} failed in QEMU: ${job.error}`));
				else ended(id, cancelled ? new SnapdeckError('failed', `${kind} was cancelled`) : null);
			}, error => ended(id, error as Error));
		}
	});
	const onAbort = () => {
		cancelled = true;
		for (const id of pending) client.execute('block-job-cancel', {device: id, force: true}).catch(() => client.execute('job-cancel', {id}).catch(() => undefined));
	};
	const readProgress = () =>
		client.execute('query-jobs', undefined, {schema: Jobs}).then(jobs => {
			const ours = jobs.filter(job => ids.includes(job.id));
			const done = ours.reduce((sum, job) => sum + job['current-progress'], 0);
			const total = ours.reduce((sum, job) => sum + job['total-progress'], 0);
			if (ours.length === count && total > 0) {
				options.onProgress?.(done / total);
				options.onBytes?.(done, total);
			}
		}, () => undefined);
	const poll = setInterval(readProgress, 250);
	try {
		options.signal?.throwIfAborted();
		options.signal?.addEventListener('abort', onAbort, {once: true});
		await start(ids);
		void readProgress();
		await Promise.race([finished, client.closed().then(reason => Promise.reject(new SnapdeckError('failed', `${kind} stopped: ${reason}`)))]);
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
		throw new SnapdeckError('refused', `the VM is ${status.status}, so QEMU cannot be made to flush the merged images`, 'resume the VM, then run snapdeck recover');
	}
	await client.execute('stop');
	await client.execute('cont');
}

const BitmapNodes = z.array(z.looseObject({
	'node-name': z.string(),
	'dirty-bitmaps': z.array(z.looseObject({name: z.string(), inconsistent: z.boolean().optional(), persistent: z.boolean().optional()})).optional(),
}));

/** The dirty bitmaps on each node, by node name; an inconsistent one (QEMU died with it open) is not usable. */
export async function nodeBitmaps(client: QmpClient): Promise<Map<string, Array<{name: string; usable: boolean}>>> {
	const nodes = await client.execute('query-named-block-nodes', {flat: true}, {schema: BitmapNodes});
	return new Map(nodes.map(node => [node['node-name'], (node['dirty-bitmaps'] ?? []).map(bitmap => ({name: bitmap.name, usable: bitmap.inconsistent !== true}))]));
}
