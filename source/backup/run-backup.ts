import {chmod, rename, rm, stat} from 'node:fs/promises';
import path from 'node:path';
import {
	archiveFile,
	BACKUP_BITMAP_PREFIX,
	bootFileOf,
	decideBackup,
	newPointId,
	pointChain,
	type BackupDecision,
	type BackupMode,
	type BackupPoint,
	type Manifest,
} from '../core/backup-manifest.js';
import {latestPoint} from '../core/points.js';
import {describeError, SnapdeckError} from '../core/errors.js';
import type {PlanEvent} from '../core/plan.js';
import {byteProgress, partsBytes, type JobContext} from '../core/progress.js';
import {settleAll} from '../core/chain.js';
import {formatBytes} from '../core/units.js';
import {localRunner} from '../adapters/exec.js';
import {QemuImg} from '../adapters/qemu/qemu-img.js';
import {fileExists} from '../adapters/file-checks.js';
import {makeDirs} from '../adapters/safe-fs.js';
import {type AuditView, type BackupDriver, type BackupTarget, type Hypervisor, roleOf} from '../adapters/hypervisor.js';
import type {Repository} from './repository.js';
import {sha256File} from './hashing.js';
import {fsyncFile} from '../adapters/state/atomic-file.js';
import {keepKit} from './write-kit.js';
import {cleanupRepository} from './repository-cleanup.js';
import {copyBootFiles} from './point-boot-files.js';
import {auditBackup} from './audit.js';
import {archiveSource, copyArchive, type ArchiveSource} from './vm-archive.js';
import {stateFolder} from '../adapters/safe-fs.js';

export interface BackupOptions {
	readonly mode: BackupMode;
	readonly command: string;
	readonly signal?: AbortSignal;
	/** step (what is copied), progress (bytes, rate, ETA), done: the same events a plan sends. */
	readonly onEvent?: (event: PlanEvent) => void;
	/** Told, before the copy starts, what kind of backup this is and why. */
	readonly onDecision?: (decision: {kind: 'full' | 'incremental'; base: string | null; reason: string}) => void;
	/** Told what went wrong after the work itself succeeded (a receipt that could not be written). */
	readonly onWarning?: (text: string) => void;
	readonly now?: Date;
	/** A bandwidth cap per disk (QEMU's job speed), so a backup leaves the VM's storage some room. */
	readonly bytesPerSecond?: number;
	/** Start the copy with the guest's filesystems frozen through its agent (refused where that cannot be done). */
	readonly quiesce?: boolean;
	/** Also audit the point: each disk as it was at the backup's instant, compared with what the point restores. */
	readonly audit?: boolean;
	/** zstd-compressed clusters in the point (default); false writes them plain. */
	readonly compress?: boolean;
	/**
	 * Also archive the whole VM: its definition and every image of its snapshot tree as they are
	 * (external overlays, and internal snapshots inside the images), so a restore brings the VM
	 * back with its snapshots. The VM must be stopped.
	 */
	readonly withSnapshots?: boolean;
}

const PLACEHOLDER_SHA = '0'.repeat(64);

/** Progress events over parts (disks, files), one after another or at once (see partsBytes). */
export const partsProgress = <T>(
	parts: readonly T[],
	sizeOf: (part: T) => number,
	onEvent: ((event: PlanEvent) => void) | undefined,
) => partsBytes(parts, sizeOf, byteProgress(onEvent));

/**
 * Compresses point files a driver wrote plain (libvirt's push backup has no compression): each is
 * rewritten beside itself, then renamed over it. Costs one more pass over what the point holds.
 */
async function compressAfter(targets: readonly BackupTarget[], options: BackupOptions, why?: string): Promise<void> {
	const qemuImg = new QemuImg(localRunner);
	const sizes = new Map(
		await Promise.all(targets.map(async target => [target, (await stat(target.file)).size] as const)),
	);
	const progress = partsProgress(targets, target => sizes.get(target)!, options.onEvent);
	options.onEvent?.({
		type: 'step',
		index: 0,
		total: 1,
		summary: `compress ${targets.map(target => target.disk).join(', ')} (${formatBytes(progress.total)}, zstd)${why ? `, a pass of its own: ${why}` : ''}`,
		resumed: false,
	});
	// Every disk at once (qemu-img compresses in threads, but one disk leaves a core idle); all end before a failure is told.
	await settleAll(
		targets.map(async target => {
			// Ends in .qcow2, so that the next run's cleanup removes it after a kill.
			const compressed = target.file.replace(/\.qcow2$/, '.compressing.qcow2');
			try {
				await qemuImg.compressInto(
					target.file,
					compressed,
					target.backing === null ? null : path.relative(path.dirname(target.file), target.backing),
					{
						signal: options.signal,
						onProgress: progress.of(target),
					},
				);
				await chmod(compressed, 0o600);
				await rename(compressed, target.file);
			} finally {
				await rm(compressed, {force: true});
			}
			progress.finished(target);
		}),
	);
}

/**
 * Backs up every disk of `vm` into the repository: full, or incremental over the newest point
 * when its dirty bitmaps are there. One QMP transaction starts a job per disk and a new bitmap per
 * disk, so the point is consistent across disks; the previous bitmap is left untouched until the
 * new point is on disk and recorded, so a run that fails or is killed never loses changes.
 */
export async function runBackup(
	hypervisor: Hypervisor,
	repo: Repository,
	vm: string,
	options: BackupOptions,
	job: JobContext,
): Promise<BackupPoint> {
	const backups = roleOf(hypervisor, 'backups', 'back up VMs', 'use a local: connection');
	const pending = await repo.operations(vm).readPending();
	if (pending)
		throw new SnapdeckError(
			'interrupted',
			`the backups of ${vm} have an unfinished prune (started ${pending.startedAt})`,
			`run 'snapdeck prune ${vm}' again to finish it first`,
		);
	const {manifest} = await cleanupRepository(repo, await repo.read(vm));
	const archive = options.withSnapshots ? await archiveSource(hypervisor, vm) : null;
	const driver = await backups.backupDriver(vm);
	let view: AuditView | undefined;
	try {
		if (options.audit && driver.noAudit)
			throw new SnapdeckError(
				'refused',
				`cannot audit this backup of ${vm}: ${driver.noAudit}`,
				'back it up without --audit; VMs on this machine, running or stopped, can be audited',
			);
		// The instant of the backup, kept for the audit: an overlay per disk, in a work folder of the job's.
		const audit = options.audit
			? {
					dir: await job.workFolder(
						await stateFolder(path.join(repo.vmDir(vm), '.snapdeck'), `the state folder of ${vm}'s backups`),
						'audit',
					),
				}
			: null;
		const done = await backupFrom(driver, repo, manifest, options, archive, job, audit);
		view = done.view;
		return view ? await auditBackup(repo, vm, done.point, view, options, job) : done.point;
	} finally {
		await view?.release().catch(() => undefined);
		await driver.close();
	}
}

/**
 * Full or incremental, and why: the VM's bitmaps of this repository that no recorded point owns
 * (a failed or killed run's) removed first, and an incremental only where every file of the
 * points under it is there.
 */
async function decide(
	driver: BackupDriver,
	repo: Repository,
	manifest: Manifest,
	mode: BackupOptions['mode'],
	prefix: string,
) {
	const latest = latestPoint(manifest.points);
	const found = await driver.bitmaps(prefix);
	for (const name of new Set([...found.values()].flat().map(bitmap => bitmap.name))) {
		if (name !== latest?.bitmap) await driver.removeBitmap(name);
	}
	const ours = (target: string) => (found.get(target) ?? []).filter(bitmap => bitmap.name === latest?.bitmap);
	const chain = latest
		? (() => {
				try {
					return pointChain(manifest, latest.id);
				} catch {
					return null;
				}
			})()
		: [];
	const chainFiles = (chain ?? []).flatMap(member => member.files.map(file => file.file));
	const missing =
		chain === null
			? [`a point under ${latest!.id} (not in the manifest)`]
			: (
					await Promise.all(
						chainFiles.map(async file => ((await fileExists(repo.resolve(manifest.vm, file))) ? [] : [file])),
					)
				).flat();
	return decideBackup(
		mode,
		manifest,
		driver.disks.map(disk => ({...disk, bitmaps: ours(disk.target)})),
		missing,
		driver.untracked,
	);
}

/** What the phases of one backup share: the new point as it was recorded (partial), and how it is made. */
interface BackupRun {
	readonly driver: BackupDriver;
	readonly repo: Repository;
	/** The manifest before the run: what a failed run writes back. */
	readonly manifest: Manifest;
	readonly options: BackupOptions;
	readonly decision: BackupDecision;
	readonly point: BackupPoint;
	/** The bitmap the copy starts on each disk, for the next incremental. */
	readonly bitmap: string;
	readonly compress: boolean;
}

/** The backup past runBackup's checks: the point recorded as partial, copied, completed and recorded; a failure undoes it all. */
async function backupFrom(
	driver: BackupDriver,
	repo: Repository,
	manifest: Manifest,
	options: BackupOptions,
	archive: ArchiveSource | null,
	job: JobContext,
	audit: {dir: string} | null,
): Promise<{point: BackupPoint; view?: AuditView}> {
	const latest = latestPoint(manifest.points);
	const run = await partialPoint(driver, repo, manifest, options);
	const {point, decision} = run;
	// Recorded as partial first: a run killed from here on is cleaned up by the next one.
	await repo.write({...manifest, points: [...manifest.points, point]});
	await job.begin(point.id, `${decision.kind}${decision.reason ? ` (${decision.reason})` : ''}`);
	job.step('recorded');
	let view: AuditView | undefined;
	try {
		const {targets, asked, copied} = await copyDisks(run, audit);
		view = copied?.audit;
		job.step('copied');
		if (run.compress && !(copied?.compressed ?? asked)) await compressAfter(targets, options, copied?.why);
		const complete = await completePoint(run, archive, latest, job);
		job.step('hashed');
		await repo.write({...manifest, points: [...manifest.points, complete]});
		options.onEvent?.({type: 'done', index: 0});
		// Only now is the previous bitmap no longer needed.
		if (latest?.bitmap) await driver.removeBitmap(latest.bitmap).catch(() => undefined);
		await repo.keepReserve();
		// restore.sh and RESTORE.md at the repository's root: a point restores even without snapdeck.
		await keepKit(repo.root);
		return {point: complete, ...(view ? {view} : {})};
	} catch (error) {
		await view?.release().catch(() => undefined);
		throw await undoBackup(run, error);
	}
}

/** The new point as it is recorded before anything is copied: partial, each disk's file backed by the base's file of that disk. */
async function partialPoint(
	driver: BackupDriver,
	repo: Repository,
	manifest: Manifest,
	options: BackupOptions,
): Promise<BackupRun> {
	const vm = manifest.vm;
	const prefix = `${BACKUP_BITMAP_PREFIX}${repo.tag}.`;
	const decision = await decide(driver, repo, manifest, options.mode, prefix);
	options.onDecision?.({kind: decision.kind, base: decision.base?.id ?? null, reason: decision.reason});
	const now = options.now ?? new Date();
	const id = newPointId(
		now,
		manifest.points.map(point => point.id),
	);
	const bitmap = `${prefix}${id}`;
	const files = driver.disks.map(disk => {
		const backing = decision.base?.files.find(file => file.disk === disk.target)?.file ?? null;
		return {
			disk: disk.target,
			file: `${disk.target}/${id}.qcow2`,
			backing,
			virtualSize: disk.virtualSize,
			size: 0,
			sha256: PLACEHOLDER_SHA,
		};
	});
	const compress = options.compress ?? true;
	const point: BackupPoint = {
		id,
		kind: decision.kind,
		createdAt: now.toISOString(),
		parent: decision.base?.id ?? null,
		state: 'partial',
		files,
		bitmap: driver.untracked === undefined ? bitmap : null,
		reason: decision.reason,
		definition: driver.definition,
		verified: null,
		boot: null,
		compression: compress ? 'zstd' : 'none',
		archive: null,
		identity: repo.bindingOf(vm)?.identity ?? manifest.identity,
		bootFiles: [],
		audit: null,
	};
	return {driver, repo, manifest, options, decision, point, bitmap, compress};
}

/** Every disk into its point file, in one copy of the driver's (compressed where it can), and what it left to do. */
async function copyDisks(run: BackupRun, audit: {dir: string} | null) {
	const {
		driver,
		repo,
		decision,
		options,
		point: {files},
	} = run;
	const vm = run.manifest.vm;
	for (const file of files) await makeDirs(path.dirname(repo.resolve(vm, file.file)), 'the backup repository');
	const size = formatBytes(driver.disks.reduce((sum, disk) => sum + disk.virtualSize, 0));
	// An incremental copies what its bitmap marks, not the disks' size.
	const changed = decision.base?.bitmap && driver.changedBytes ? await driver.changedBytes(decision.base.bitmap) : null;
	const amount = changed === null ? size : `${formatBytes(changed)} changed since ${decision.base!.id}, of ${size}`;
	const what = `${decision.kind} backup of ${driver.disks.map(disk => disk.target).join(', ')} (${amount}) to ${repo.vmDir(vm)}`;
	options.onEvent?.({type: 'step', index: 0, total: 1, summary: what, resumed: false});
	const targets = files.map(file => ({
		disk: file.disk,
		file: repo.resolve(vm, file.file),
		backing: file.backing === null ? null : repo.resolve(vm, file.backing),
		virtualSize: file.virtualSize,
	}));
	const asked = run.compress && driver.compresses;
	const copied = await driver.copy({
		bitmap: run.bitmap,
		since: decision.base?.bitmap ?? null,
		bytesPerSecond: options.bytesPerSecond,
		compress: asked,
		quiesce: options.quiesce ?? false,
		signal: options.signal,
		onBytes: byteProgress(options.onEvent),
		targets,
		...(audit ? {audit} : {}),
	});
	return {targets, asked, copied};
}

/** The point as complete: the archive and boot files copied in, and each disk's file private, durable and hashed. */
async function completePoint(
	run: BackupRun,
	archive: ArchiveSource | null,
	latest: BackupPoint | null | undefined,
	job: JobContext,
): Promise<BackupPoint> {
	const {driver, repo, options, point} = run;
	const vm = run.manifest.vm;
	if (archive) {
		options.onEvent?.({
			type: 'step',
			index: 0,
			total: 1,
			summary: `archive ${archive.images.length} image${archive.images.length === 1 ? '' : 's'} of ${vm}'s snapshot tree, as they are`,
			resumed: false,
		});
	}
	const archived = archive ? await copyArchive(repo, vm, point.id, archive, job, options.signal) : null;
	const bootFiles = await copyBootFiles(repo, vm, point.id, driver.bootFiles ?? [], latest, options.signal);
	// Durable and hashed; the checksum is read while the kernel writes the file back, every disk at once.
	return {
		...point,
		state: 'complete',
		archive: archived,
		bootFiles,
		...(archive?.definition === undefined ? {} : {archiveDefinition: archive.definition}),
		files: await Promise.all(
			point.files.map(async file => {
				const absolute = repo.resolve(vm, file.file);
				// Whoever made the file (QEMU, libvirt), a point is its owner's alone.
				await chmod(absolute, 0o600);
				const [sha256] = await Promise.all([sha256File(absolute, options.signal), fsyncFile(absolute)]);
				return {...file, size: await repo.fileSize(vm, file.file), sha256};
			}),
		),
	};
}

/** Leaves the repository, and the VM's bitmaps, exactly as they were; the error to throw, saying so. */
async function undoBackup(run: BackupRun, error: unknown): Promise<SnapdeckError> {
	const {
		driver,
		repo,
		manifest,
		options,
		point: {id, files},
	} = run;
	const vm = manifest.vm;
	await driver.removeBitmap(run.bitmap).catch(() => undefined);
	for (const file of files) await rm(repo.resolve(vm, file.file), {force: true});
	await rm(path.dirname(repo.resolve(vm, archiveFile(id, 'x'))), {recursive: true, force: true});
	await rm(path.dirname(repo.resolve(vm, bootFileOf(id, 'kernel'))), {recursive: true, force: true});
	await repo.write(manifest);
	const cancelled = options.signal?.aborted ?? false;
	const {message, code} = describeError(error);
	const noSpace = code === 'no-space' || /No space left|ENOSPC/i.test(message);
	const hint = noSpace
		? `free some space in ${repo.vmDir(vm)} (prune old points with 'snapdeck prune ${vm}'), then try again`
		: error instanceof SnapdeckError
			? error.hint
			: undefined;
	return new SnapdeckError(
		error instanceof SnapdeckError && !cancelled ? error.kind : 'failed',
		`backup of ${vm} ${cancelled ? 'was cancelled' : 'failed'}; the repository is as it was: ${message}`,
		hint,
		cancelled ? 'cancelled' : noSpace ? 'no-space' : code,
	);
}
