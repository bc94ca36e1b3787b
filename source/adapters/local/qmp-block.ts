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
export async function runJob(client: QmpClient, kind: string, start: (id: string) => Promise<unknown>, options: JobOptions = {}): Promise<void> {
	const id = newJobId(kind);
	let settle!: {resolve: () => void; reject: (error: Error) => void};
	const finished = new Promise<void>((resolve, reject) => {
		settle = {resolve, reject};
	});
	let cancelled = false;
	const unsubscribe = client.onEvent(event => {
		const data = event.data ?? {};
		if (data['id'] !== id && data['device'] !== id) return;
		if (event.event === 'BLOCK_JOB_READY' && options.pivot) client.execute('job-complete', {id}).catch(error => settle.reject(error as Error));
		if (event.event === 'BLOCK_JOB_CANCELLED') settle.reject(new SnapdeckError('failed', `${kind} was cancelled`));
		if (event.event === 'BLOCK_JOB_COMPLETED') {
			if (typeof data['error'] === 'string') settle.reject(new SnapdeckError('failed', `${kind} failed in QEMU: ${data['error']}`));
			else settle.resolve();
		}
		if (event.event === 'JOB_STATUS_CHANGE' && data['status'] === 'concluded') {
			// Jobs that are not block jobs (snapshot-save/load) end here; read why, then dismiss.
			client.execute('query-jobs', undefined, {schema: Jobs}).then(async jobs => {
				const job = jobs.find(candidate => candidate.id === id);
				await client.execute('job-dismiss', {id}).catch(() => undefined);
				if (job?.error) settle.reject(new SnapdeckError('failed', `${kind} failed in QEMU: ${job.error}`));
				else if (cancelled) settle.reject(new SnapdeckError('failed', `${kind} was cancelled`));
				else settle.resolve();
			}, error => settle.reject(error as Error));
		}
	});
	const onAbort = () => {
		cancelled = true;
		client.execute('block-job-cancel', {device: id, force: true}).catch(() => client.execute('job-cancel', {id}).catch(() => undefined));
	};
	const readProgress = () =>
		client.execute('query-jobs', undefined, {schema: Jobs}).then(jobs => {
			const job = jobs.find(candidate => candidate.id === id);
			if (job && job['total-progress'] > 0) options.onProgress?.(job['current-progress'] / job['total-progress']);
		}, () => undefined);
	const poll = setInterval(readProgress, 250);
	try {
		options.signal?.throwIfAborted();
		options.signal?.addEventListener('abort', onAbort, {once: true});
		await start(id);
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
