import path from 'node:path';
import {z} from 'zod';
import {SnapdeckError} from '../../core/errors.js';
import {hasControlCharacters} from '../../core/terminal-text.js';
import {liesOutside} from '../file-checks.js';
import type {QmpClient} from './qmp-client.js';

/** Whether no two of `items` have one key (QEMU names each device and node once: a monitor that repeats one is not QEMU's, or is lost). */
const distinct =
	<T>(key: (item: T) => string | undefined) =>
	(items: readonly T[]) => {
		const keys = items.map(key).filter(value => value !== undefined);
		return new Set(keys).size === keys.length;
	};

const DiskStats = z.array(z.looseObject({qdev: z.string().optional(), 'node-name': z.string().optional()})).refine(
	distinct((device: {qdev?: string}) => device.qdev),
	'two devices have one qdev path',
);

const NamedNodes = z
	.array(
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
	)
	.refine(
		distinct((node: {'node-name': string}) => node['node-name']),
		'two nodes have one node name',
	);
type NamedNode = z.infer<typeof NamedNodes>[number];

const JsonFilename = z.looseObject({file: z.looseObject({driver: z.literal('file'), filename: z.string()})});

const Graph = z.looseObject({
	nodes: z.array(z.looseObject({id: z.number(), name: z.string(), type: z.string()})),
	edges: z.array(z.looseObject({parent: z.number(), child: z.number(), name: z.string()})),
});

/**
 * QEMU's block layer as one step sees it: each question asked at most once, when first needed,
 * for as long as the caller knows nothing changed it (a new view after anything that does). On a
 * deep chain the node list is what costs: QEMU rebuilds every node's nested json: name to answer
 * it (bench/local-take-deep.mjs: 2 s a read at 100 layers on a loaded machine), so it is read once
 * a step and every caller derives its answer from that read.
 */
export class BlockView {
	private stats?: Promise<z.infer<typeof DiskStats>>;
	private named?: Promise<NamedNode[]>;
	private edges?: Promise<z.infer<typeof Graph>>;

	constructor(readonly client: QmpClient) {}

	/** Each guest device with its root node; query-blockstats, which (unlike query-block) describes no image. */
	devices() {
		return (this.stats ??= this.client.execute('query-blockstats', undefined, {schema: DiskStats}));
	}

	/** Every node QEMU has open, with its image name, its image's state and its dirty bitmaps. */
	nodes() {
		return (this.named ??= this.client.execute('query-named-block-nodes', {flat: true}, {schema: NamedNodes}));
	}

	/** Which node uses which: node names and edges only, cheap at any depth. */
	graph() {
		return (this.edges ??= this.client.execute('x-debug-query-block-graph', undefined, {schema: Graph}));
	}
}

/** A view already read by the caller in this step, or a new one over a client. */
const viewOf = (from: QmpClient | BlockView) => (from instanceof BlockView ? from : new BlockView(from));

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
 * its protocol child ('file') in the node graph, whose name is the plain path: asked only then.
 * Only `nodes` are read: a node of another kind (a backup's fleece, an NBD export) has a name that
 * is no image path, and is no concern of the caller's.
 */
async function nodePaths(view: BlockView, nodes: readonly NamedNode[]): Promise<Map<string, string>> {
	const paths = new Map<string, string>();
	const cut = new Map<string, string>();
	for (const node of nodes) {
		const file = imagePath(node.file);
		if (file === null) cut.set(node['node-name'], node.file);
		else paths.set(node['node-name'], file);
	}
	if (cut.size === 0) return paths;
	const graph = await view.graph();
	const names = new Map(graph.nodes.map(node => [node.id, node.name]));
	const files = new Map((await view.nodes()).map(node => [node['node-name'], node.file]));
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
export async function namedNodes(from: QmpClient | BlockView, wanted: (node: NamedNode) => boolean) {
	const view = viewOf(from);
	const nodes = (await view.nodes()).filter(wanted);
	const paths = await nodePaths(view, nodes);
	return nodes.map(node => ({...node, path: paths.get(node['node-name'])!}));
}

/** qcow2 nodes QEMU has open, by absolute file name. */
export async function qcow2Nodes(from: QmpClient | BlockView): Promise<Map<string, string>> {
	const nodes = await namedNodes(from, node => node.drv === 'qcow2');
	return new Map(nodes.map(node => [node.path, node['node-name']]));
}

/**
 * The qcow2 images QEMU has found damaged (it sets the header's corrupt bit and stops writing
 * them), by absolute file name. For an image a running QEMU writes, this is the only true answer:
 * `qemu-img check -U` reads its tables half-written and reports damage that is not there.
 */
export async function corruptImages(from: QmpClient | BlockView): Promise<Set<string>> {
	const nodes = await namedNodes(
		from,
		node => node.drv === 'qcow2' && node.image?.['format-specific']?.data?.corrupt === true,
	);
	return new Set(nodes.map(node => node.path));
}

/** Each guest disk's top node and its file, by disk target (vda, vdb, ...). */
export async function topNodes(from: QmpClient | BlockView): Promise<Map<string, {node: string; file: string}>> {
	const view = viewOf(from);
	const roots = new Map<string, string>(); // target -> its root node
	for (const device of await view.devices()) {
		const target = /^\/machine\/peripheral\/([^/]+)\/virtio-backend$/.exec(device.qdev ?? '')?.[1];
		if (target && device['node-name']) roots.set(target, device['node-name']);
	}
	const wanted = new Set(roots.values());
	const paths = new Map(
		(await namedNodes(view, node => wanted.has(node['node-name']))).map(node => [node['node-name'], node.path]),
	);
	const tops = new Map<string, {node: string; file: string}>();
	for (const [target, node] of roots) {
		const file = paths.get(node);
		if (file === undefined)
			throw new SnapdeckError(
				'failed',
				`QEMU's node list has no node ${JSON.stringify(node)}, which its disk ${target} runs on`,
				'check "qmp" in the VM\'s vm.json: it must name the QMP socket of the VM\'s own QEMU',
			);
		tops.set(target, {node, file});
	}
	return tops;
}

/**
 * Refuses a QEMU that runs images from outside the VM's folder: vm.json's "qmp" may name any
 * socket, and the one it names could be another VM's, which snapdeck would then stop, snapshot
 * or back up in this VM's name.
 */
export async function assertOwnQemu(from: QmpClient | BlockView, folder: string, vm: string): Promise<void> {
	const foreign = [...(await topNodes(from)).values()].map(top => top.file).filter(file => liesOutside(folder, file));
	if (foreign.length > 0) {
		throw new SnapdeckError(
			'refused',
			`the QEMU behind ${vm}'s QMP socket runs ${foreign.join(', ')}, which ${foreign.length === 1 ? 'is' : 'are'} not in ${folder}: it is another VM's`,
			`check "qmp" in ${vm}'s vm.json; nothing was changed`,
		);
	}
}

/** The dirty bitmaps on each node, by node name; an inconsistent one (QEMU died with it open) is not usable. */
export async function nodeBitmaps(
	from: QmpClient | BlockView,
): Promise<Map<string, Array<{name: string; usable: boolean; count: number}>>> {
	const nodes = await viewOf(from).nodes();
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

/**
 * The named nodes nothing uses, from the block graph: those no device, job or node has as a
 * child, then those whose every user is such a node (a format node's file node), in the order
 * they can be deleted. Names QEMU made up ('#block...') are not the monitor's to delete.
 */
async function detachedNodes(view: BlockView): Promise<string[]> {
	const graph = await view.graph();
	const users = new Map<number, number[]>(graph.nodes.map(node => [node.id, []]));
	for (const edge of graph.edges) users.get(edge.child)?.push(edge.parent);
	const candidates = graph.nodes.filter(node => node.type === 'block-driver' && !node.name.startsWith('#'));
	const detached = new Set<number>();
	const order: string[] = [];
	for (let found = true; found;) {
		found = false;
		for (const node of candidates) {
			if (detached.has(node.id) || !users.get(node.id)!.every(user => detached.has(user))) continue;
			detached.add(node.id);
			order.push(node.name);
			found = true;
		}
	}
	return order;
}

/**
 * Deletes the named nodes nothing uses any more. A node QEMU was started with (-blockdev) or that
 * a snapshot added stays in QEMU after a commit or stream takes it out of the disk's chain, still
 * holding its backing node: the next snapshot of that node then fails ("node is used as backing
 * hd"). The block graph says which those are; QEMU still refuses blockdev-del of a node in use.
 */
export async function dropDetachedNodes(from: QmpClient | BlockView): Promise<string[]> {
	const view = viewOf(from);
	const dropped: string[] = [];
	for (const node of await detachedNodes(view)) {
		const gone = await view.client.execute('blockdev-del', {'node-name': node}).then(
			() => true,
			() => false,
		);
		if (gone) dropped.push(`node ${node} (no longer in any chain)`);
	}
	return dropped;
}
