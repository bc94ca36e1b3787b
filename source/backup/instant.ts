import {mkdir, readdir, rm} from 'node:fs/promises';
import path from 'node:path';
import {findPoint} from '../core/backup.js';
import {SnapdeckError} from '../core/errors.js';
import {assertValidName} from '../core/names.js';
import type {PlanEvent} from '../core/plan.js';
import {writeJsonAtomic} from '../adapters/state/atomic-file.js';
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
	/** A cap on the stream's rate, so the repository's disk keeps some room. */
	readonly bytesPerSecond?: number;
}

/** The markers that hold prune off a VM's points while instant restores read them: REPO/VM/.snapdeck/instant/NAME.json. */
const markers = (vmDir: string) => path.join(vmDir, '.snapdeck', 'instant');

/** The instant restores that still read this VM's points (the new VMs' names). */
export async function instantReaders(vmDir: string): Promise<string[]> {
	return (await readdir(markers(vmDir)).catch(() => [] as string[])).filter(name => name.endsWith('.json')).map(name => name.slice(0, -'.json'.length));
}

/** The marker of a finished instant restore, removed: prune may touch the point again. */
export const releaseInstant = (vmDir: string, name: string) => rm(path.join(markers(vmDir), `${name}.json`), {force: true});

/**
 * Restores a point as a new VM that runs at once: its disks are overlays on the point's files in
 * the repository, the VM is started, then what it still reads from the repository is streamed
 * into its own disks in the background of the guest (QEMU's block-stream), until it depends on
 * the repository no more. Meanwhile a marker in the repository holds prune off the point. A crash
 * or cancel leaves the VM running from the repository; `snapdeck recover NAME` finishes the stream.
 */
export async function restoreInstant(repo: Repository, hypervisor: Hypervisor, vm: string, options: InstantOptions, job: JobContext): Promise<{vm: string; point: string; startedAfterMs: number}> {
	const instant = roleOf(hypervisor, 'instantRestores', 'restore instantly', 'restore with --as NAME (a full copy), then start it');
	const power = roleOf(hypervisor, 'power', 'start VMs', 'restore with --as NAME (a full copy), then start it');
	assertValidName('VM', options.as);
	const began = performance.now();
	const release = await repo.lock(vm, options.command);
	let point;
	try {
		const manifest = await repo.read(vm);
		point = findPoint(manifest, options.point);
		if (point.state !== 'complete') throw new SnapdeckError('refused', `point ${point.id} is partial (an interrupted backup): it cannot be restored`);
		const problems = await repo.chainHeaderProblems(manifest, point.id);
		if (problems.length > 0) throw new SnapdeckError('failed', `cannot restore point ${point.id}: ${problems.join('; ')}`, `run 'snapdeck verify ${vm}'`);
		// Before the VM reads a byte of the point: prune leaves the point (and those under it) alone.
		await mkdir(markers(repo.vmDir(vm)), {recursive: true, mode: 0o700});
		await writeJsonAtomic(path.join(markers(repo.vmDir(vm)), `${options.as}.json`), {vm: options.as, point: point.id, since: new Date().toISOString(), command: options.command});
	} finally {
		await release();
	}
	const vmDir = repo.vmDir(vm);
	await job.begin(point.id, `instantly, as VM ${options.as}`);
	try {
		options.onEvent?.({type: 'step', index: 0, total: 2, summary: `start ${options.as} at once, on overlays over point ${point.id} of ${vm} in the repository`, resumed: false});
		await instant.instantVm(options.as, point.definition, Object.fromEntries(point.files.map(file => [file.disk, repo.resolve(vm, file.file)])), {repository: vmDir, point: point.id});
	} catch (error) {
		await releaseInstant(vmDir, options.as);
		throw error;
	}
	await power.start(options.as);
	const startedAfterMs = performance.now() - began;
	options.onStarted?.(options.as);
	options.onEvent?.({type: 'step', index: 1, total: 2, summary: `stream what ${options.as} still reads from the repository into its own disks (it runs meanwhile)`, resumed: false});
	await instant.finishInstant(options.as, {signal: options.signal, onBytes: byteProgress(options.onEvent, 1), ...(options.bytesPerSecond ? {bytesPerSecond: options.bytesPerSecond} : {})});
	await releaseInstant(vmDir, options.as);
	options.onEvent?.({type: 'done', index: 1});
	return {vm: options.as, point: point.id, startedAfterMs};
}
