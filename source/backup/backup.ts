import {mkdir, rm} from 'node:fs/promises';
import path from 'node:path';
import {decideBackup, latestPoint, newPointId, type BackupMode, type BackupPoint, type Manifest} from '../core/backup.js';
import {SnapdeckError} from '../core/errors.js';
import type {PlanEvent} from '../core/plan.js';
import {formatBytes} from '../core/units.js';
import {localRunner} from '../adapters/exec.js';
import type {BackupSource, Hypervisor} from '../adapters/hypervisor.js';
import {nodeBitmaps, runJobs} from '../adapters/local/qmp-block.js';
import {QmpError} from '../adapters/local/qmp-client.js';
import {QemuImg} from '../adapters/qemu-img.js';
import {fsyncFile, sha256File, type Repository} from './repository.js';

export interface BackupOptions {
	readonly mode: BackupMode;
	readonly command: string;
	readonly signal?: AbortSignal;
	/** step (what is copied), progress (bytes, rate, ETA), done: the same events a plan sends. */
	readonly onEvent?: (event: PlanEvent) => void;
	/** Told, before the copy starts, what kind of backup this is and why. */
	readonly onDecision?: (decision: {kind: 'full' | 'incremental'; base: string | null; reason: string}) => void;
	readonly now?: Date;
	/** A bandwidth cap per disk (QEMU's job speed), so a backup leaves the VM's storage some room. */
	readonly bytesPerSecond?: number;
}

const PLACEHOLDER_SHA = '0'.repeat(64);

/**
 * Copy requests of up to 4 MiB instead of one cluster: a full backup of 1 GiB took 650 ms instead
 * of 1.6-1.9 s here (2 and 16 MiB were slower). Not copy offloading (use-copy-range): on a
 * filesystem with reflinks the backup would share its blocks with the VM's image.
 */
const TUNING = {'x-perf': {'max-chunk': 4 * 1024 * 1024}};

/** Progress events with rate and ETA from (done, total) byte counts. */
export function byteProgress(onEvent: ((event: PlanEvent) => void) | undefined, index = 0) {
	const began = performance.now();
	return (done: number, total: number) => {
		const seconds = (performance.now() - began) / 1000;
		const rate = seconds > 0 ? done / seconds : 0;
		onEvent?.({type: 'progress', index, fraction: total > 0 ? done / total : 0, bytesDone: done, bytesTotal: total, rate, eta: rate > 0 ? (total - done) / rate : null});
	};
}

/**
 * Backs up every disk of `vm` into the repository: full, or incremental over the newest point
 * when its dirty bitmaps are there. One QMP transaction starts a job per disk and a new bitmap per
 * disk, so the point is consistent across disks; the previous bitmap is left untouched until the
 * new point is on disk and recorded, so a run that fails or is killed never loses changes.
 */
export async function runBackup(hypervisor: Hypervisor, repo: Repository, vm: string, options: BackupOptions): Promise<BackupPoint> {
	if (!hypervisor.backupSource) throw new SnapdeckError('refused', `${hypervisor.uri} cannot back up VMs yet`, 'use a local: connection');
	const releaseVm = await hypervisor.lock(vm, options.command);
	try {
		const releaseRepo = await repo.lock(vm, options.command);
		try {
			const pending = await repo.operations(vm).readPending();
			if (pending) throw new SnapdeckError('interrupted', `the backups of ${vm} have an unfinished prune (started ${pending.startedAt})`, `run 'snapdeck prune ${vm}' again to finish it first`);
			const {manifest} = await repo.cleanup(await repo.read(vm));
			const source = await hypervisor.backupSource(vm);
			try {
				return await backupFrom(source, repo, manifest, options);
			} finally {
				await source.close();
			}
		} finally {
			await releaseRepo();
		}
	} finally {
		await releaseVm();
	}
}

async function backupFrom(source: BackupSource, repo: Repository, manifest: Manifest, options: BackupOptions): Promise<BackupPoint> {
	const {client} = source;
	const vm = manifest.vm;
	const qemuImg = new QemuImg(localRunner);
	const prefix = `snapdeck.${repo.tag}.`;
	const bitmaps = await nodeBitmaps(client);
	const ours = (node: string) => (bitmaps.get(node) ?? []).filter(bitmap => bitmap.name.startsWith(prefix));
	const latest = latestPoint(manifest);
	// Bitmaps of this repository that no recorded point owns were left by a failed or killed run.
	for (const disk of source.disks) {
		for (const bitmap of ours(disk.node)) {
			if (bitmap.name !== latest?.bitmap) await client.execute('block-dirty-bitmap-remove', {node: disk.node, name: bitmap.name});
		}
	}
	const decision = decideBackup(options.mode, manifest, source.disks.map(disk => ({target: disk.target, virtualSize: disk.virtualSize, bitmaps: ours(disk.node)})));
	options.onDecision?.({kind: decision.kind, base: decision.base?.id ?? null, reason: decision.reason});
	const now = options.now ?? new Date();
	const id = newPointId(now, manifest.points.map(point => point.id));
	const bitmap = `${prefix}${id}`;
	const files = source.disks.map(disk => {
		const backing = decision.base?.files.find(file => file.disk === disk.target)?.file ?? null;
		return {disk: disk.target, file: `${disk.target}/${id}.qcow2`, backing, virtualSize: disk.virtualSize, size: 0, sha256: PLACEHOLDER_SHA};
	});
	const point: BackupPoint = {
		id, kind: decision.kind, createdAt: now.toISOString(), parent: decision.base?.id ?? null, state: 'partial', files, bitmap,
		reason: decision.reason, definition: source.definition, verified: null,
	};
	// Recorded as partial first: a run killed from here on is cleaned up by the next one.
	await repo.write({...manifest, points: [...manifest.points, point]});
	await repo.journal(vm, {action: 'backup', snapshot: id, outcome: 'started', message: `${decision.kind}${decision.reason ? ` (${decision.reason})` : ''}`});
	const targets = source.disks.map(disk => `snapdeck-target-${disk.target}`);
	const added: string[] = [];
	let bitmapsAdded = false;
	try {
		for (const file of files) {
			const absolute = repo.resolve(vm, file.file);
			await mkdir(path.dirname(absolute), {recursive: true});
			// An incremental's backing file is the previous point's, named relative to it (same folder).
			if (file.backing === null) await qemuImg.create(absolute, {size: file.virtualSize});
			else await qemuImg.create(absolute, {backing: path.relative(path.dirname(absolute), repo.resolve(vm, file.backing))});
		}
		for (const [index, file] of files.entries()) {
			await client.execute('blockdev-add', {driver: 'qcow2', 'node-name': targets[index], file: {driver: 'file', filename: repo.resolve(vm, file.file)}});
			added.push(targets[index]!);
		}
		const what = `${decision.kind} backup of ${source.disks.map(disk => disk.target).join(', ')} (${formatBytes(source.disks.reduce((sum, disk) => sum + disk.virtualSize, 0))}) to ${repo.vmDir(vm)}`;
		options.onEvent?.({type: 'step', index: 0, total: 1, summary: what, resumed: false});
		const speed = options.bytesPerSecond === undefined ? {} : {speed: options.bytesPerSecond};
		const begin = (ids: string[], tuned: boolean) =>
			client.execute('transaction', {
				actions: source.disks.flatMap((disk, index) => [
					{type: 'block-dirty-bitmap-add', data: {node: disk.node, name: bitmap, persistent: true}},
					{
						type: 'blockdev-backup',
						data: {
							'job-id': ids[index], device: disk.node, target: targets[index], ...speed, ...(tuned ? TUNING : {}),
							...(decision.base ? {sync: 'bitmap', bitmap: decision.base.bitmap, 'bitmap-mode': 'never'} : {sync: 'full'}),
						},
					},
				]),
				// Not 'grouped': QEMU 7.2 refuses it beside bitmap actions. A disk whose job fails fails the run.
			});
		await runJobs(client, 'backup', source.disks.length, async ids => {
			bitmapsAdded = true;
			try {
				await begin(ids, true).catch(async error => {
					// A QEMU without the (experimental) x-perf tuning runs the same jobs untuned.
					if (!(error instanceof QmpError && /x-perf/.test(error.desc))) throw error;
					await begin(ids, false);
				});
			} catch (error) {
				bitmapsAdded = false; // A transaction fails as a whole.
				throw error;
			}
		}, {signal: options.signal, onBytes: byteProgress(options.onEvent)});
		for (const node of added.splice(0)) await client.execute('blockdev-del', {'node-name': node});
		// Durable and hashed; the checksum is read while the kernel writes the file back, every disk at once.
		const complete: BackupPoint = {
			...point, state: 'complete',
			files: await Promise.all(files.map(async file => {
				const absolute = repo.resolve(vm, file.file);
				const [sha256] = await Promise.all([sha256File(absolute, options.signal), fsyncFile(absolute)]);
				return {...file, size: await repo.fileSize(vm, file.file), sha256};
			})),
		};
		await repo.write({...manifest, points: [...manifest.points, complete]});
		options.onEvent?.({type: 'done', index: 0});
		// Only now is the previous bitmap no longer needed.
		for (const disk of source.disks) {
			if (decision.base?.bitmap) await client.execute('block-dirty-bitmap-remove', {node: disk.node, name: decision.base.bitmap}).catch(() => undefined);
			else for (const old of ours(disk.node)) await client.execute('block-dirty-bitmap-remove', {node: disk.node, name: old.name}).catch(() => undefined);
		}
		await repo.journal(vm, {action: 'backup', snapshot: id, outcome: 'done', message: `${decision.kind}, ${formatBytes(complete.files.reduce((sum, file) => sum + file.size, 0))}`});
		return complete;
	} catch (error) {
		// Leave the repository, and the VM's bitmaps, exactly as they were.
		for (const node of added) await client.execute('blockdev-del', {'node-name': node}).catch(() => undefined);
		if (bitmapsAdded) for (const disk of source.disks) await client.execute('block-dirty-bitmap-remove', {node: disk.node, name: bitmap}).catch(() => undefined);
		for (const file of files) await rm(repo.resolve(vm, file.file), {force: true});
		await repo.write(manifest);
		const cancelled = options.signal?.aborted ?? false;
		const message = error instanceof Error ? error.message : String(error);
		await repo.journal(vm, {action: 'backup', snapshot: id, outcome: cancelled ? 'cancelled' : 'failed', message});
		const hint = /No space left|ENOSPC/i.test(message) ? `free some space in ${repo.vmDir(vm)} (prune old points with 'snapdeck prune ${vm}'), then try again` : error instanceof SnapdeckError ? error.hint : undefined;
		throw new SnapdeckError(error instanceof SnapdeckError && !cancelled ? error.kind : 'failed', `backup of ${vm} ${cancelled ? 'was cancelled' : 'failed'}; the repository is as it was: ${message}`, hint);
	}
}
