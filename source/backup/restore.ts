import {constants} from 'node:fs';
import {archiveProblems, headerProblems} from './point-headers.js';
import {chmod, copyFile, link, rm, stat} from 'node:fs/promises';
import path from 'node:path';
import {
	archiveFile,
	bootFilesOf,
	findPoint,
	pointChain,
	type BackupFile,
	type BackupPoint,
	type Manifest,
} from '../core/backup-manifest.js';
import {SnapdeckError} from '../core/errors.js';
import type {PlanEvent} from '../core/plan.js';
import type {JobContext} from '../core/progress.js';
import {settleAll} from '../core/chain.js';
import {formatBytes} from '../core/units.js';
import {localRunner} from '../adapters/exec.js';
import {fileExists} from '../adapters/file-checks.js';
import {makeDirs, matchSource} from '../adapters/safe-fs.js';
import {type Hypervisor, roleOf} from '../adapters/hypervisor.js';
import {QemuImg} from '../adapters/qemu/qemu-img.js';
import {partsProgress} from './run-backup.js';
import type {Repository} from './repository.js';
import {fsyncFile} from '../adapters/state/atomic-file.js';

export interface RestoreOptions {
	readonly point: string;
	/** A new image file (one disk) or a new directory (several disks, one `<disk>.qcow2` each). */
	readonly to?: string;
	/** A new VM of this name on the connection. */
	readonly as?: string;
	readonly command: string;
	readonly signal?: AbortSignal;
	readonly onEvent?: (event: PlanEvent) => void;
	/** Restore even a point whose last verification failed. */
	readonly force?: boolean;
}

/**
 * Refuses a point whose last verification (or that of a point it builds on) failed: restoring it
 * would hand back data known to be damaged as if it were good. `force` says the operator knows.
 */
export function assertRestorable(manifest: Manifest, point: BackupPoint, force = false): void {
	if (point.state !== 'complete')
		throw new SnapdeckError(
			'refused',
			`point ${point.id} of ${manifest.vm} is partial (an interrupted backup) and cannot be restored`,
		);
	if (force) return;
	const failed = pointChain(manifest, point.id).find(member => member.verified?.ok === false);
	if (failed) {
		throw new SnapdeckError(
			'refused',
			`point ${point.id} of ${manifest.vm} failed its last verification${failed === point ? '' : ` (through point ${failed.id}, which it builds on)`} on ${failed.verified!.at}: ${failed.verified!.message}`,
			`restore another point ('snapdeck backups ${manifest.vm}'), verify it again ('snapdeck verify ${manifest.vm} --point ${point.id}') if the damage was repaired, or pass --force to restore it as it is`,
		);
	}
}

/**
 * Progress over a point's disks written one after another: the disks done, plus this one's share,
 * in the bytes each reads (its point file and those under it), not its virtual size: a 64 GiB disk
 * holding 1 GiB shows 1 GiB to go.
 */
function disksProgress(manifest: Manifest, point: BackupPoint, onEvent: RestoreOptions['onEvent']) {
	const chain = pointChain(manifest, point.id);
	const reads = (file: BackupFile) =>
		chain
			.flatMap(member => member.files)
			.filter(member => member.disk === file.disk)
			.reduce((sum, member) => sum + member.size, 0);
	return partsProgress(point.files, reads, onEvent);
}

/** Where each disk of a point went. */
export type Restored = Record<string, string>;

/**
 * Restores a point into new images (never over an existing file): each disk's point file and the
 * points under it are flattened into one standalone qcow2 with `qemu-img convert`.
 */
export async function restoreBackup(
	repo: Repository,
	hypervisor: Hypervisor,
	vm: string,
	options: RestoreOptions,
	job: JobContext,
): Promise<Restored> {
	if ((options.to === undefined) === (options.as === undefined))
		throw new SnapdeckError('usage', 'restore needs exactly one of --to PATH and --as NAME');
	const manifest = await repo.read(vm);
	const point = findPoint(manifest, options.point);
	assertRestorable(manifest, point, options.force);
	await assertChainIntact(repo, vm, manifest, point);
	const write = diskWriter(repo, vm, manifest, point, options, job);
	const restored: Restored = {};
	await job.begin(point.id, options.to === undefined ? `as VM ${options.as}` : `to ${options.to}`);
	if (options.to !== undefined) {
		Object.assign(restored, await restoreToPath(point, path.resolve(options.to), write));
	} else if (point.archive !== null) {
		Object.assign(restored, await restoreArchive(repo, hypervisor, vm, point, options, job));
	} else {
		const restores = roleOf(
			hypervisor,
			'restores',
			'create VMs from a backup',
			'restore the disks with --to PATH instead',
		);
		Object.assign(
			restored,
			await restores.restoreVm(
				options.as!,
				point.definition,
				point.files.map(file => file.disk),
				write,
				(parent, label) => job.workFolder(parent, label),
				bootFilesOf(point, file => repo.resolve(vm, file)),
			),
		);
	}
	options.onEvent?.({type: 'done', index: 0});
	return restored;
}

/** Every file of the point and of the points under it there, each backed by what the manifest says. */
async function assertChainIntact(repo: Repository, vm: string, manifest: Manifest, point: BackupPoint): Promise<void> {
	for (const member of pointChain(manifest, point.id)) {
		for (const file of member.files) {
			if (!(await fileExists(repo.resolve(vm, file.file))))
				throw new SnapdeckError(
					'failed',
					`cannot restore point ${point.id}: ${file.file} (of point ${member.id}) is missing from ${repo.vmDir(vm)}`,
					`run 'snapdeck verify ${vm}' to see which points are intact`,
				);
		}
		const headers = await headerProblems(repo, vm, member.files);
		if (headers.length > 0)
			throw new SnapdeckError(
				'failed',
				`cannot restore point ${point.id}: ${headers.join('; ')}`,
				`the repository was changed behind snapdeck's back: run 'snapdeck verify ${vm}', and restore another point`,
			);
	}
}

/** Writes one disk of the point into a new image `target`, flattened, durable, and under its name only when whole. */
function diskWriter(
	repo: Repository,
	vm: string,
	manifest: Manifest,
	point: BackupPoint,
	options: RestoreOptions,
	job: JobContext,
) {
	const qemuImg = new QemuImg(localRunner);
	const progress = disksProgress(manifest, point, options.onEvent);
	return async (disk: string, target: string) => {
		const file = point.files.find(candidate => candidate.disk === disk);
		if (!file) throw new SnapdeckError('failed', `point ${point.id} has no disk ${disk}`);
		if (await fileExists(target))
			throw new SnapdeckError(
				'input',
				`${target} already exists; restore never overwrites a file`,
				'choose another path, or move that file away',
			);
		// One step per disk, numbered in the point's order (the disks may be written at once).
		options.onEvent?.({
			type: 'step',
			index: point.files.indexOf(file),
			total: point.files.length,
			summary: `restore ${disk} of point ${point.id} (${formatBytes(file.virtualSize)}) to ${target}`,
			resumed: false,
		});
		// Written in a work folder of the job's beside the target, given its name when whole: a restore
		// killed part way never leaves a half image under the name asked for, and recover removes the folder.
		const work = await job.workFolder(path.dirname(target), 'restore');
		const partial = path.join(work, path.basename(target));
		try {
			job.step('writing');
			await qemuImg.convert(repo.resolve(vm, file.file), partial, {
				signal: options.signal,
				onProgress: progress.of(file),
			});
			// No more readable than the point it comes from.
			await matchSource(partial, repo.resolve(vm, file.file), 0o600);
			await fsyncFile(partial);
			job.step('written');
			await link(partial, target).catch(error => {
				throw (error as NodeJS.ErrnoException).code === 'EEXIST'
					? new SnapdeckError(
							'refused',
							`${target} appeared while it was being restored; restore never overwrites a file`,
						)
					: error;
			});
			await fsyncFile(target);
			job.step('placed');
		} finally {
			await rm(work, {recursive: true, force: true});
		}
		progress.finished(file);
	};
}

/** --to: one disk to the file named, several each to `<disk>.qcow2` in the directory named. */
async function restoreToPath(
	point: BackupPoint,
	to: string,
	write: (disk: string, target: string) => Promise<void>,
): Promise<Restored> {
	if (point.files.length === 1) {
		await write(point.files[0]!.disk, to);
		return {[point.files[0]!.disk]: to};
	}
	if (
		await stat(to).then(
			s => !s.isDirectory(),
			() => false,
		)
	)
		throw new SnapdeckError(
			'usage',
			`point ${point.id} has ${point.files.length} disks, so --to must name a directory, and ${to} is a file`,
		);
	await makeDirs(to, 'the folder to restore into');
	// Every disk at once: each is its own qemu-img, reading its own chain. All end before a failure is told.
	const targets = point.files.map(file => [file.disk, path.join(to, `${file.disk}.qcow2`)] as const);
	await settleAll(targets.map(([disk, target]) => write(disk, target)));
	return Object.fromEntries(targets);
}

/** A whole-VM archive as a new VM: its images copied as they are, so every snapshot can still be reverted to. */
async function restoreArchive(
	repo: Repository,
	hypervisor: Hypervisor,
	vm: string,
	point: BackupPoint,
	options: RestoreOptions,
	job: JobContext,
): Promise<Restored> {
	const archives = roleOf(
		hypervisor,
		'archives',
		'create VMs from a whole-VM archive',
		'restore the present state with --to PATH, or on a local: connection',
	);
	const problems = await archiveProblems(repo, vm, point);
	if (problems.length > 0)
		throw new SnapdeckError(
			'failed',
			`cannot restore the archive of point ${point.id}: ${problems.join('; ')}`,
			`the repository was changed behind snapdeck's back: run 'snapdeck verify ${vm}', and restore another point`,
		);
	const images = point.archive!;
	const progress = partsProgress(images, image => image.size, options.onEvent);
	options.onEvent?.({
		type: 'step',
		index: 0,
		total: 1,
		summary: `restore ${vm}'s archive of point ${point.id} (${images.length} images, ${formatBytes(progress.total)}) as VM ${options.as}`,
		resumed: false,
	});
	return archives.restoreArchive(
		options.as!,
		point.archiveDefinition ?? point.definition,
		images.map(image => image.name),
		async (name, target) => {
			options.signal?.throwIfAborted();
			await copyFile(repo.resolve(vm, archiveFile(point.id, name)), target, constants.COPYFILE_EXCL);
			await chmod(target, 0o600);
			await fsyncFile(target);
			const image = images.find(candidate => candidate.name === name)!;
			progress.of(image)(1);
			progress.finished(image);
		},
		(parent, label) => job.workFolder(parent, label),
	);
}

/**
 * Writes a point into existing images (a restore in place, onto the fresh overlays of a safety
 * snapshot), one disk after another; a run that is interrupted can simply be run again.
 */
export async function writePointInto(
	repo: Repository,
	vm: string,
	id: string,
	images: Readonly<Record<string, string>>,
	options: {signal?: AbortSignal; onEvent?: (event: PlanEvent) => void; force?: boolean},
	job: JobContext,
): Promise<void> {
	const manifest = await repo.read(vm);
	const point = findPoint(manifest, id);
	assertRestorable(manifest, point, options.force);
	const missing = point.files.filter(file => images[file.disk] === undefined).map(file => file.disk);
	if (missing.length > 0)
		throw new SnapdeckError(
			'refused',
			`point ${id} has disk${missing.length === 1 ? '' : 's'} ${missing.join(', ')}, which ${vm} has no more`,
			'restore it with --as NAME instead',
		);
	const qemuImg = new QemuImg(localRunner);
	const progress = disksProgress(manifest, point, options.onEvent);
	await job.begin(id, 'in place');
	for (const [index, file] of point.files.entries()) {
		options.onEvent?.({
			type: 'step',
			index,
			total: point.files.length,
			summary: `write ${file.disk} of point ${id} over ${images[file.disk]}`,
			resumed: false,
		});
		job.step('writing');
		await qemuImg.convertInto(repo.resolve(vm, file.file), images[file.disk]!, {
			signal: options.signal,
			onProgress: progress.of(file),
		});
		progress.finished(file);
	}
	options.onEvent?.({type: 'done', index: 0});
}
