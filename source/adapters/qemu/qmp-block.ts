import path from 'node:path';
import {z} from 'zod';
import {SnapdeckError} from '../../core/errors.js';
import {hasControlCharacters} from '../../core/terminal-text.js';
import {crashPoint} from '../exec.js';
import {liesOutside} from '../file-checks.js';
import type {QmpClient} from './qmp-client.js';

const Blocks = z.array(
	z.looseObject({
		qdev: z.string().optional(),
		inserted: z.looseObject({'node-name': z.string(), file: z.string()}).optional(),
	}),
);
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

const JsonFilename = z.looseObject({file: z.looseObject({driver: z.literal('file'), filename: z.string()})});
const NodeImages = z.array(
	z.looseObject({
		'node-name': z.string(),
		drv: z.string(),
		file: z.string(),
		image: z
			.looseObject({
				'format-specific': z
					.looseObject({data: z.looseObject({corrupt: z.boolean().optional()}).optional()})
					.optional(),
			})
			.optional(),
	}),
);

const Graph = z.looseObject({
	nodes: z.array(z.looseObject({id: z.number(), name: z.string()})),
	edges: z.array(z.looseObject({parent: z.number(), child: z.number(), name: z.string()})),
});

/**
 * The image path of a node. Where a node's options differ from its image header (an overlay put
 * on an existing backing node), QEMU names it `json:{...}`; the path is its protocol child's.
 * Null when QEMU cut the name short: it keeps a node's name in 4 KiB, and the name of a live
 * snapshot's overlay nests every layer below it, so about 40 layers down the protocol child,
 * which comes after them, is gone (nodePaths finds it in the node graph then).
 */
export function imagePath(filename: string): string | null {
	// A relative name would be resolved against snapdeck's own folder, not QEMU's; a control
	// character (a line break, an escape sequence) is in no image snapdeck made.
	if (hasControlCharacters(filename)) throw unknownName(filename);
	if (!filename.startsWith('json:')) {
		if (!path.isAbsolute(filename)) throw unknownName(filename);
		return path.resolve(filename);
	}
	let json: unknown;
	try {
		json = JSON.parse(filename.slice('json:'.length));
	} catch {
		return null;
	}
	const parsed = JsonFilename.safeParse(json);
	if (!parsed.success || !path.isAbsolute(parsed.data.file.filename)) throw unknownName(filename);
	return path.resolve(parsed.data.file.filename);
}

/** The name as QEMU gave it, quoted: it may hold anything, a line break included. */
const unknownName = (filename: string) =>
	new SnapdeckError(
		'failed',
		`QEMU names an image in a way snapdeck does not know: ${JSON.stringify(filename.slice(0, 200))}`,
		'check "qmp" in the VM\'s vm.json: it must name the QMP socket of the VM\'s own QEMU, started with absolute image paths',
	);

/**
 * The image path of each of `nodes`, by node name. A node whose name QEMU cut short is followed to
 * its protocol child ('file') in the node graph, whose name is the plain path: one more question,
 * asked only then. Only `nodes` are read: a node of another kind (a backup's fleece, an NBD
 * export) has a name that is no image path, and is no concern of the caller's.
 */
async function nodePaths(
	client: QmpClient,
	nodes: ReadonlyArray<{'node-name': string; file: string}>,
	all: ReadonlyArray<{'node-name': string; file: string}>,
): Promise<Map<string, string>> {
	const paths = new Map<string, string>();
	const cut = new Map<string, string>();
	for (const node of nodes) {
		const file = imagePath(node.file);
		if (file === null) cut.set(node['node-name'], node.file);
		else paths.set(node['node-name'], file);
	}
	if (cut.size === 0) return paths;
	const graph = await client.execute('x-debug-query-block-graph', undefined, {schema: Graph});
	const names = new Map(graph.nodes.map(node => [node.id, node.name]));
	const files = new Map(all.map(node => [node['node-name'], node.file]));
	for (const edge of graph.edges) {
		const parent = names.get(edge.parent);
		const child = files.get(names.get(edge.child) ?? '');
		if (edge.name === 'file' && parent !== undefined && cut.has(parent) && child !== undefined) {
			const file = imagePath(child);
			if (file !== null) paths.set(parent, file);
		}
	}
	for (const [node, filename] of cut) if (!paths.has(node)) throw unknownName(filename);
	return paths;
}

/** The nodes QEMU has open that `wanted` picks, each with its image path. */
async function namedNodes(client: QmpClient, wanted: (node: z.infer<typeof NodeImages>[number]) => boolean) {
	const all = await client.execute('query-named-block-nodes', {flat: true}, {schema: NodeImages});
	const nodes = all.filter(wanted);
	const paths = await nodePaths(client, nodes, all);
	return nodes.map(node => ({...node, path: paths.get(node['node-name'])!}));
}

/** qcow2 nodes QEMU has open, by absolute file name. */
export async function qcow2Nodes(client: QmpClient): Promise<Map<string, string>> {
	const nodes = await namedNodes(client, node => node.drv === 'qcow2');
	return new Map(nodes.map(node => [node.path, node['node-name']]));
}

/**
 * The qcow2 images QEMU has found damaged (it sets the header's corrupt bit and stops writing
 * them), by absolute file name. For an image a running QEMU writes, this is the only true answer:
 * `qemu-img check -U` reads its tables half-written and reports damage that is not there.
 */
export async function corruptImages(client: QmpClient): Promise<Set<string>> {
	const nodes = await namedNodes(
		client,
		node => node.drv === 'qcow2' && node.image?.['format-specific']?.data?.corrupt === true,
	);
	return new Set(nodes.map(node => node.path));
}

/** Each guest disk's top node and its file, by disk target (vda, vdb, ...). */
export async function topNodes(client: QmpClient): Promise<Map<string, {node: string; file: string}>> {
	const blocks = await client.execute('query-block', undefined, {schema: Blocks});
	const tops = new Map<string, {node: string; file: string}>();
	for (const block of blocks) {
		const target = /^\/machine\/peripheral\/([^/]+)\/virtio-backend$/.exec(block.qdev ?? '')?.[1];
		if (!target || !block.inserted) continue;
		const node = block.inserted['node-name'];
		let file = imagePath(block.inserted.file);
		if (file === null) {
			file = (await namedNodes(client, named => named['node-name'] === node))[0]?.path ?? null;
		}
		if (file === null) throw unknownName(block.inserted.file);
		tops.set(target, {node, file});
	}
	return tops;
}

/**
 * Refuses a QEMU that runs images from outside the VM's folder: vm.json's "qmp" may name any
 * socket, and the one it names could be another VM's, which snapdeck would then stop, snapshot
 * or back up in this VM's name.
 */
export async function assertOwnQemu(client: QmpClient, folder: string, vm: string): Promise<void> {
	const foreign = [...(await topNodes(client)).values()].map(top => top.file).filter(file => liesOutside(folder, file));
	if (foreign.length > 0) {
		throw new SnapdeckError(
			'refused',
			`the QEMU behind ${vm}'s QMP socket runs ${foreign.join(', ')}, which ${foreign.length === 1 ? 'is' : 'are'} not in ${folder}: it is another VM's`,
			`check "qmp" in ${vm}'s vm.json; nothing was changed`,
		);
	}
}

export interface JobOptions {
	readonly signal?: AbortSignal;
	readonly onProgress?: (fraction: number) => void;
	/** Bytes done and to do, summed over the jobs, as query-jobs reports them. */
	readonly onBytes?: (done: number, total: number) => void;
	/** Active commit and mirror wait in READY until told to complete (pivot). */
	readonly pivot?: boolean;
}

/** Test hook for recovery from a job a killed snapdeck left in QEMU: SNAPDECK_CRASH_AT=job:KIND (test/e2e/qemu-leftovers.test.ts). */
const crashInJob = (kind: string) => crashPoint(`job:${kind}`);

let jobCounter = 0;
export const newJobId = (kind: string) => `snapdeck-${kind}-${process.pid}-${++jobCounter}`;

/** The node a backup job writes to, added before the job and deleted after it. */
export const BACKUP_TARGET_PREFIX = 'snapdeck-target-';

/**
 * Finds what a snapdeck that died (kill -9, a lost host) left in a running QEMU: its block jobs
 * (a commit waiting in READY, a backup still copying) and its backup target nodes, which make the
 * next job fail ("Need a root block node", "Duplicate nodes"). Each job is cancelled (QEMU then
 * leaves the chain as it was; the pending plan, if any, runs the step again) and each node
 * deleted. Called, under the VM's lock, before any live operation. Returns what it removed.
 */
export async function clearLeftovers(client: QmpClient): Promise<string[]> {
	const removed: string[] = [];
	const leftover = (id: string) => id.startsWith('snapdeck-') && !id.includes(`-${process.pid}-`);
	// An audit's exports and NBD server, before the overlays they serve.
	const exports = await client
		.execute<Array<{id: string}>>('query-block-exports')
		.catch(() => [] as Array<{id: string}>);
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
		client,
		candidate =>
			candidate['node-name'].startsWith(BACKUP_TARGET_PREFIX) || candidate['node-name'].startsWith('snapdeck-fleece-'),
	);
	for (const node of nodes) {
		await client.execute('blockdev-del', {'node-name': node['node-name']}).catch(() => undefined);
		removed.push(`node ${node['node-name']} (${node.path})`);
	}
	removed.push(...(await dropDetachedNodes(client)));
	return removed;
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
 * Deletes the named nodes nothing uses any more. A node QEMU was started with (-blockdev) or that
 * a snapshot added stays in QEMU after a commit or stream takes it out of the disk's chain, still
 * holding its backing node: the next snapshot of that node then fails ("node is used as backing
 * hd"). QEMU refuses blockdev-del of a node that a device or another node uses, so trying each
 * named node (format nodes before their file nodes) removes exactly the detached ones.
 */
export async function dropDetachedNodes(client: QmpClient): Promise<string[]> {
	const nodes = (await client.execute('query-named-block-nodes', {flat: true}, {schema: NodeImages}))
		.filter(node => !node['node-name'].startsWith('#'))
		.sort((a, b) => Number(a.drv === 'file') - Number(b.drv === 'file'));
	const dropped: string[] = [];
	for (const node of nodes) {
		const gone = await client.execute('blockdev-del', {'node-name': node['node-name']}).then(
			() => true,
			() => false,
		);
		if (gone) dropped.push(`node ${node['node-name']} (${node.drv}, no longer in any chain)`);
	}
	return dropped;
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
	const read = () =>
		client.execute('query-jobs', undefined, {schema: Jobs}).then(
			jobs => {
				const ours = jobs.filter(job => ids.includes(job.id));
				const done = ours.reduce((sum, job) => sum + job['current-progress'], 0);
				const total = ours.reduce((sum, job) => sum + job['total-progress'], 0);
				if (ours.length === ids.length && total > 0) {
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
			},
			() => undefined,
		);
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

const BitmapNodes = z.array(
	z.looseObject({
		'node-name': z.string(),
		'dirty-bitmaps': z
			.array(
				z.looseObject({
					name: z.string().optional(),
					count: z.number().optional(),
					inconsistent: z.boolean().optional(),
					persistent: z.boolean().optional(),
				}),
			)
			.optional(),
	}),
);

/** The dirty bitmaps on each node, by node name; an inconsistent one (QEMU died with it open) is not usable. */
export async function nodeBitmaps(
	client: QmpClient,
): Promise<Map<string, Array<{name: string; usable: boolean; count: number}>>> {
	const nodes = await client.execute('query-named-block-nodes', {flat: true}, {schema: BitmapNodes});
	// A job's own bitmap has no name (LAB.md): not one of ours, and not one anyone can follow.
	return new Map(
		nodes.map(node => [
			node['node-name'],
			(node['dirty-bitmaps'] ?? []).flatMap(bitmap =>
				bitmap.name === undefined
					? []
					: [{name: bitmap.name, usable: bitmap.inconsistent !== true, count: bitmap.count ?? 0}],
			),
		]),
	);
}
