import {chmod} from 'node:fs/promises';
import {SnapdeckError} from '../../core/errors.js';
import path from 'node:path';
import type {AuditView, BackupDriver} from '../hypervisor.js';
import type {QemuImg} from './qemu-img.js';
import {nodeBitmaps} from './block-view.js';
import {BACKUP_TARGET_PREFIX, endJob, newJobId, runJobs} from './qmp-block.js';
import {QmpError, type QmpClient} from './qmp-client.js';

/**
 * Copy requests of up to 4 MiB instead of one cluster: a full backup of 1 GiB took 650 ms instead
 * of 1.6-1.9 s here (2 and 16 MiB were slower). Not copy offloading (use-copy-range): on a
 * filesystem with reflinks the backup would share its blocks with the VM's image.
 */
const TUNING = {'x-perf': {'max-chunk': 4 * 1024 * 1024}};

/** A point's new image for one disk, made and opened in QEMU as the node its backup job writes to. */
async function addTargetNode(
	client: QmpClient,
	qemuImg: QemuImg,
	target: {file: string; backing: string | null; virtualSize: number},
	node: string,
	compress: boolean,
): Promise<void> {
	// An incremental's backing file is the previous point's, named relative to it.
	const compression = compress ? {compression: 'zstd' as const} : {};
	if (target.backing === null) await qemuImg.create(target.file, {size: target.virtualSize, ...compression});
	else
		await qemuImg.create(target.file, {
			backing: path.relative(path.dirname(target.file), target.backing),
			...compression,
		});
	// Before a byte of the disk is in it: a point is its owner's alone.
	await chmod(target.file, 0o600);
	await client.execute('blockdev-add', {
		driver: 'qcow2',
		'node-name': node,
		file: {driver: 'file', filename: target.file},
	});
}

/** What a QMP backup driver works with. */
interface QmpBackupOptions {
	client: QmpClient;
	disks: ReadonlyArray<{target: string; node: string; virtualSize: number}>;
	definition: unknown;
	qemuImg: QemuImg;
	close: () => Promise<void>;
	/** Why no bitmap may be added to (or removed from) the images, if so: the copy is then a plain full. */
	untracked?: string;
	/** Runs its work with the guest frozen (a running VM with a guest agent); absent: a quiesced copy is refused. */
	freeze?: <T>(work: () => Promise<T>) => Promise<T>;
	/** What the VM needs to start besides its disks (see BackupDriver.bootFiles). */
	bootFiles?: BackupDriver['bootFiles'];
}

type CopyRequest = Parameters<BackupDriver['copy']>[0];

/** The node of a guest disk, by its target (vda). */
const nodeOf = (options: QmpBackupOptions, disk: string) =>
	options.disks.find(candidate => candidate.target === disk)!.node;

/**
 * Backups through QMP: blockdev-backup jobs into target nodes, and persistent dirty bitmaps added
 * in the same transaction that starts the jobs. Serves a running VM's QEMU and a
 * qemu-storage-daemon alike.
 */
export function qmpBackupDriver(options: QmpBackupOptions): BackupDriver {
	const {client, disks, untracked} = options;
	return {
		disks: disks.map(({target, virtualSize}) => ({target, virtualSize})),
		...(options.bootFiles ? {bootFiles: options.bootFiles} : {}),
		definition: options.definition,
		...(untracked === undefined ? {} : {untracked}),
		compresses: true,
		close: options.close,
		async bitmaps(prefix) {
			if (untracked !== undefined) return new Map();
			const all = await nodeBitmaps(client);
			return new Map(
				disks.map(disk => [disk.target, (all.get(disk.node) ?? []).filter(bitmap => bitmap.name.startsWith(prefix))]),
			);
		},
		async changedBytes(name) {
			const all = await nodeBitmaps(client);
			return disks.reduce(
				(sum, disk) => sum + ((all.get(disk.node) ?? []).find(bitmap => bitmap.name === name)?.count ?? 0),
				0,
			);
		},
		async removeBitmap(name) {
			if (untracked !== undefined) return;
			const all = await nodeBitmaps(client);
			for (const disk of disks) {
				if ((all.get(disk.node) ?? []).some(bitmap => bitmap.name === name))
					await client.execute('block-dirty-bitmap-remove', {node: disk.node, name});
			}
		},
		copy: request => copyDisks(options, request),
	};
}

/** The driver's copy(): a target node per disk, the jobs into them, and an audit's overlays where asked. */
async function copyDisks(options: QmpBackupOptions, request: CopyRequest) {
	const {client, qemuImg} = options;
	const {targets, compress = false, quiesce = false, audit, signal, onBytes} = request;
	if (quiesce && !options.freeze)
		throw new SnapdeckError(
			'refused',
			'cannot quiesce this backup: the VM is not running with a guest agent snapdeck can reach',
			'back it up unquiesced (leave out --quiesce)',
		);
	const nodes = targets.map(target => `${BACKUP_TARGET_PREFIX}${target.disk}`);
	const added: string[] = [];
	let fleeces: Fleece[] = [];
	try {
		for (const [index, target] of targets.entries()) {
			await addTargetNode(client, qemuImg, target, nodes[index]!, compress);
			added.push(nodes[index]!);
		}
		// Image fleecing for an audit: an overlay over each disk, kept at the backup's instant by a
		// copy-before-write job (sync none) that starts in the same transaction as the backup's.
		fleeces = audit
			? await addFleeces(
					client,
					audit.dir,
					targets.map(target => ({
						disk: target.disk,
						node: nodeOf(options, target.disk),
						virtualSize: target.virtualSize,
					})),
					qemuImg,
				)
			: [];
		// Not 'grouped': QEMU 7.2 refuses it beside bitmap actions. A disk whose job fails fails the run.
		const begin = (ids: string[], tuned: boolean) =>
			client.execute('transaction', {actions: backupActions(options, request, nodes, fleeces, ids, tuned)});
		// The point in time of a backup is the start of its jobs: that is what a quiesce freezes for.
		const frozen = <T>(work: () => Promise<T>) => (quiesce ? options.freeze!(work) : work());
		await runJobs(
			client,
			'backup',
			targets.length,
			ids =>
				frozen(() => begin(ids, true)).catch(async error => {
					// A QEMU without the (experimental) x-perf tuning runs the same jobs untuned.
					if (!(error instanceof QmpError && /x-perf/.test(error.desc))) throw error;
					await begin(ids, false);
				}),
			{signal, onBytes},
		);
		if (audit) return {audit: await exportFleeces(client, audit.dir, fleeces)};
	} catch (error) {
		await releaseFleeces(client, fleeces);
		throw error;
	} finally {
		// Closing a target node flushes it to its file.
		for (const node of added) await client.execute('blockdev-del', {'node-name': node}).catch(() => undefined);
	}
}

/**
 * The actions of the transaction that starts a backup: each audit overlay's copy-before-write
 * job, then for each disk its new bitmap (where bitmaps are kept) and its job into its node of
 * `nodes`, with the ids `ids`.
 */
function backupActions(
	options: QmpBackupOptions,
	request: CopyRequest,
	nodes: readonly string[],
	fleeces: readonly Fleece[],
	ids: readonly string[],
	tuned: boolean,
) {
	const {bitmap, since, bytesPerSecond, compress = false} = request;
	const speed = bytesPerSecond === undefined ? {} : {speed: bytesPerSecond};
	return [
		...fleeces.map(fleece => fleece.action),
		...request.targets.flatMap((target, index) => {
			const node = nodeOf(options, target.disk);
			return [
				...(options.untracked === undefined
					? [{type: 'block-dirty-bitmap-add', data: {node, name: bitmap, persistent: true}}]
					: []),
				{
					type: 'blockdev-backup',
					data: {
						'job-id': ids[index],
						device: node,
						target: nodes[index],
						...speed,
						...(tuned ? TUNING : {}),
						...(compress ? {compress: true} : {}),
						...(since === null ? {sync: 'full'} : {sync: 'bitmap', bitmap: since, 'bitmap-mode': 'never'}),
					},
				},
			];
		}),
	];
}

/** An audit's overlay over one disk: its node, the copy-before-write job that keeps it, and the transaction action that starts that job. */
interface Fleece {
	readonly disk: string;
	readonly node: string;
	readonly job: string;
	readonly action: {type: string; data: Record<string, unknown>};
}

/** The prefix of an audit's overlay nodes and exports (clearLeftovers removes what a killed snapdeck left). */
export const FLEECE_PREFIX = 'snapdeck-fleece-';

/**
 * Adds, for each disk, an empty qcow2 overlay (a file in `dir`) backed by the disk's node: once a
 * `blockdev-backup` with sync none runs from the disk to it, every write the guest makes copies the
 * old data into the overlay first, so the overlay reads as the disk at the job's start.
 */
async function addFleeces(
	client: QmpClient,
	dir: string,
	disks: ReadonlyArray<{disk: string; node: string; virtualSize: number}>,
	qemuImg: QemuImg,
): Promise<Fleece[]> {
	const fleeces: Fleece[] = [];
	try {
		for (const {disk, node, virtualSize} of disks) {
			const file = path.join(dir, `fleece-${disk}.qcow2`);
			await qemuImg.create(file, {size: virtualSize});
			await chmod(file, 0o600);
			const fleece = `${FLEECE_PREFIX}${disk}`;
			await client.execute('blockdev-add', {
				driver: 'qcow2',
				'node-name': fleece,
				file: {driver: 'file', filename: file},
				backing: node,
			});
			const job = newJobId(`fleece-${disk}`);
			fleeces.push({
				disk,
				node: fleece,
				job,
				action: {type: 'blockdev-backup', data: {'job-id': job, device: node, target: fleece, sync: 'none'}},
			});
		}
		return fleeces;
	} catch (error) {
		await releaseFleeces(client, fleeces);
		throw error;
	}
}

/** Serves the overlays read-only over NBD on a unix socket in `dir`, until released. */
async function exportFleeces(client: QmpClient, dir: string, fleeces: readonly Fleece[]): Promise<AuditView> {
	const socket = path.join(dir, 'nbd.sock');
	if (socket.length > 100)
		throw new SnapdeckError(
			'failed',
			`the audit's NBD socket path is too long for a unix socket (${socket.length} characters): ${socket}`,
			'use a repository with a shorter path',
		);
	await client.execute('nbd-server-start', {addr: {type: 'unix', data: {path: socket}}});
	for (const fleece of fleeces)
		await client.execute('block-export-add', {type: 'nbd', id: fleece.node, 'node-name': fleece.node, writable: false});
	return {
		sources: Object.fromEntries(
			fleeces.map(fleece => [fleece.disk, {kind: 'nbd' as const, socket, export: fleece.node}]),
		),
		dir,
		release: () => releaseFleeces(client, fleeces, true),
	};
}

/** Ends what an audit kept: the exports and the NBD server, the copy-before-write jobs, the overlay nodes. */
async function releaseFleeces(client: QmpClient, fleeces: readonly Fleece[], exported = false): Promise<void> {
	for (const fleece of fleeces)
		if (exported) await client.execute('block-export-del', {id: fleece.node}).catch(() => undefined);
	if (exported) await client.execute('nbd-server-stop').catch(() => undefined);
	for (const fleece of fleeces) await endJob(client, fleece.job);
	for (const fleece of fleeces) {
		for (let tries = 0; tries < 50; tries++) {
			// An export is removed asynchronously: its node is free a moment later.
			if (
				await client.execute('blockdev-del', {'node-name': fleece.node}).then(
					() => true,
					() => false,
				)
			)
				break;
			await new Promise(resolve => setTimeout(resolve, 100));
		}
	}
}
