import {lstat, readdir, rm} from 'node:fs/promises';
import {chainHeaderProblems} from './point-headers.js';
import path from 'node:path';
import {bootFilesOf, findPoint, type BackupPoint} from '../core/backup-manifest.js';
import {SnapdeckError} from '../core/errors.js';
import {assertValidName} from '../core/names.js';
import type {PlanEvent} from '../core/plan.js';
import {writeJsonAtomic} from '../adapters/state/atomic-file.js';
import {stateFolder} from '../adapters/safe-fs.js';
import {type Hypervisor, roleOf} from '../adapters/hypervisor.js';
import {byteProgress, type JobContext} from '../core/progress.js';
import type {Repository} from './repository.js';

export interface InstantOptions {
	readonly point: string;
	/** The new VM's name. */
	readonly as: string;
	readonly command: string;
	readonly signal?: AbortSignal;
	readonly onEvent?: (event: PlanEvent) => void;
	/** Told the moment the new VM was started (what "instant" means: seconds from the command). */
	readonly onStarted?: (vm: string) => void;
	/** A cap on the stream's rate in bytes per second (a whole number, at least 1 MiB/s), so the repository's disk keeps some room. */
	readonly bytesPerSecond?: number;
}

/** The markers that hold prune off a VM's points while instant restores read them: REPO/VM/.snapdeck/instant/NAME.json. */
export const instantMarkers = (vmDir: string) => path.join(vmDir, '.snapdeck', 'instant');

/** The instant restores that still read this VM's points (the new VMs' names). */
export async function instantReaders(vmDir: string): Promise<string[]> {
	return (await readdir(instantMarkers(vmDir)).catch(() => [] as string[]))
		.filter(name => name.endsWith('.json'))
		.map(name => name.slice(0, -'.json'.length));
}

/** The marker of a finished instant restore, removed (only a file, never through a link): prune may touch the point again. */
export async function releaseInstant(vmDir: string, name: string): Promise<void> {
	assertValidName('VM', name);
	const marker = path.join(instantMarkers(vmDir), `${name}.json`);
	if ((await lstat(marker).catch(() => null))?.isFile()) await rm(marker, {force: true});
}

/** The slowest stream an instant restore takes: QEMU counts its speed in whole bytes per second, and slower than this is no restore. */
export const MIN_STREAM_RATE = 1024 * 1024;

function assertStreamRate(bytesPerSecond: number | undefined): void {
	if (bytesPerSecond !== undefined && !(Number.isSafeInteger(bytesPerSecond) && bytesPerSecond >= MIN_STREAM_RATE)) {
		throw new SnapdeckError(
			'usage',
			`a stream rate of ${bytesPerSecond} bytes/s: give a whole number of MiB/s, 1 or more`,
		);
	}
}

/**
 * Restores a point as a new VM that runs at once: its disks are overlays on the point's files in
 * the repository, the VM is started, then what it still reads from the repository is streamed
 * into its own disks in the background of the guest (QEMU's block-stream), until it depends on
 * the repository no more. A marker in the repository, registered in the job's record before it is
 * made, holds prune off the point until then. The new VM is built in a work folder of the job's
 * and locked from the moment it exists until the stream ends. A crash or cancel leaves the VM
 * running from the repository, on record: `snapdeck recover NAME` finishes the stream (copies the
 * rest in offline, without starting it, where it was stopped meanwhile).
 */
export async function restoreInstant(
	repo: Repository,
	hypervisor: Hypervisor,
	vm: string,
	options: InstantOptions,
	job: JobContext,
): Promise<{vm: string; point: string; startedAfterMs: number}> {
	const instant = roleOf(
		hypervisor,
		'instantRestores',
		'restore instantly',
		'restore with --as NAME (a full copy), then start it',
	);
	const power = roleOf(hypervisor, 'power', 'start VMs', 'restore with --as NAME (a full copy), then start it');
	assertValidName('VM', options.as);
	// QEMU refuses a fraction of a byte per second only after the VM is started: refused before anything is done.
	assertStreamRate(options.bytesPerSecond);
	const began = performance.now();
	const vmDir = repo.vmDir(vm);
	const point = await markInstant(repo, hypervisor.uri, vm, options, job);
	await job.begin(point.id, `instantly, as VM ${options.as}`);
	options.onEvent?.({
		type: 'step',
		index: 0,
		total: 2,
		summary: `start ${options.as} at once, on overlays over point ${point.id} of ${vm} in the repository`,
		resumed: false,
	});
	await instant.instantVm(
		options.as,
		point.definition,
		Object.fromEntries(point.files.map(file => [file.disk, repo.resolve(vm, file.file)])),
		{repository: vmDir, point: point.id},
		(parent, label) => job.workFolder(parent, label),
		bootFilesOf(point, file => repo.resolve(vm, file)),
	);
	job.step('created');
	// The new VM is this job's until its stream ends: no other change to it meanwhile.
	const unlock = await hypervisor.lock(options.as, options.command);
	try {
		await power.start(options.as);
		const startedAfterMs = performance.now() - began;
		job.step('started');
		options.onStarted?.(options.as);
		options.onEvent?.({
			type: 'step',
			index: 1,
			total: 2,
			summary: `stream what ${options.as} still reads from the repository into its own disks (it runs meanwhile)`,
			resumed: false,
		});
		job.step('streaming');
		await instant.finishInstant(options.as, {
			signal: options.signal,
			onBytes: byteProgress(options.onEvent, 1),
			...(options.bytesPerSecond ? {bytesPerSecond: options.bytesPerSecond} : {}),
		});
		job.step('streamed');
		await releaseInstant(vmDir, options.as);
		options.onEvent?.({type: 'done', index: 1});
		return {vm: options.as, point: point.id, startedAfterMs};
	} finally {
		await unlock();
	}
}

/**
 * The point checked and marked for the instant restore, under the lock of the VM's backups: the
 * marker, registered in the job's record before it is made, holds prune off the point.
 */
async function markInstant(
	repo: Repository,
	connection: string,
	vm: string,
	options: InstantOptions,
	job: JobContext,
): Promise<BackupPoint> {
	const vmDir = repo.vmDir(vm);
	const marker = path.join(instantMarkers(vmDir), `${options.as}.json`);
	const release = await repo.lock(vm, options.command);
	try {
		const manifest = await repo.read(vm);
		const point = findPoint(manifest, options.point);
		if (point.state !== 'complete')
			throw new SnapdeckError('refused', `point ${point.id} is partial (an interrupted backup): it cannot be restored`);
		const problems = await chainHeaderProblems(repo, manifest, point.id);
		if (problems.length > 0)
			throw new SnapdeckError(
				'failed',
				`cannot restore point ${point.id}: ${problems.join('; ')}`,
				`run 'snapdeck verify ${vm}'`,
			);
		// Before the VM reads a byte of the point: prune leaves the point (and those under it) alone.
		await job.registers({kind: 'instant', connection, vm: options.as, marker});
		await stateFolder(instantMarkers(vmDir), `the instant restores' folder of ${vm}'s backups`);
		await writeJsonAtomic(marker, {
			vm: options.as,
			source: vm,
			point: point.id,
			since: new Date().toISOString(),
			command: options.command,
			connection,
			token: job.token,
		});
		job.step('marked');
		return point;
	} finally {
		await release();
	}
}
