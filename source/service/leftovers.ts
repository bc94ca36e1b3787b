import {lstat, rm} from 'node:fs/promises';
import path from 'node:path';
import {SnapdeckError} from '../core/errors.js';
import type {PendingOperation, PlanEvent} from '../core/plan.js';
import {byteProgress} from '../core/progress.js';
import type {Hypervisor} from '../adapters/hypervisor.js';
import {makeWorkFolder, realWorkParent, removeWorkFolder} from '../adapters/state/work-folder.js';
import type {DebrisHandlers} from '../jobs/run-job.js';
import {instantMarkers, releaseInstant} from '../backup/instant.js';

/*
 * What an interrupted change leaves, as every role meets it: an unfinished plan in words, a job's
 * leftovers and how they go, an instant restore still reading the repository.
 */

export const describePending = (vm: string, pending: PendingOperation) =>
	`${vm} has an unfinished ${pending.plan.action} of '${pending.plan.snapshot}' (started ${pending.startedAt} by '${pending.command}', ${pending.done} of ${pending.plan.steps.length} steps done)`;

/**
 * How a job's leftovers are made and removed: work folders here, throwaway VMs by the adapter that
 * made them, an instant restore's mark once its VM no longer reads the repository (for an explicit
 * recover, after copying the rest in). `backupsDir`: the folder of the backups the job is kept with.
 */
export const debrisHandlers = (hypervisor: Hypervisor, backupsDir: () => string): DebrisHandlers => ({
	realFolder: realWorkParent,
	makeFolder: makeWorkFolder,
	remove: async (job, debris, explicit) => {
		if (debris.kind === 'folder') return removeWorkFolder(job, debris);
		// A record is read back from the repository: its mark must be where this job store's instant restores put theirs, reached through no link.
		if (debris.kind === 'instant') {
			const problem = await instantMarkProblem(debris.vm, debris.marker, backupsDir());
			if (problem !== null) return {left: `${debris.marker}: ${problem}`};
		}
		if (debris.connection !== hypervisor.uri)
			return {
				left: `${debris.kind === 'instant' ? `the instant restore of ${debris.vm}` : `the throwaway VM ${debris.name}`} on ${debris.connection}: recover it on that connection`,
			};
		if (debris.kind === 'throwaway') {
			const remover = hypervisor.roles.bootTests?.removeThrowaway;
			return remover
				? remover(debris.name, job.token)
				: {left: `the throwaway VM ${debris.name}: ${hypervisor.uri} cannot remove it`};
		}
		const instant =
			(await hypervisor.roles.instantRestores?.instantOf(debris.vm).catch((error: unknown) => {
				if (error instanceof SnapdeckError && error.code === 'no-such-vm') return null;
				throw error;
			})) ?? null;
		if (instant !== null) {
			if (!explicit)
				return {
					pending: `${debris.vm} still reads point ${instant.point} from the repository (its stream did not finish): 'snapdeck recover ${debris.vm}' copies the rest in`,
				};
			await finishInstantRestore(hypervisor, debris.vm, {command: `recover ${debris.vm}`});
		}
		// The VM reads the repository no more (or was never made): the mark that held prune off goes.
		const found = await lstat(debris.marker).catch(() => null);
		if (!found?.isFile()) return {};
		await rm(debris.marker, {force: true});
		return {
			removed: `the mark of the instant restore of ${debris.vm} (${debris.marker})${instant ? `, after copying the rest of ${debris.vm}'s data in` : ''}`,
		};
	},
});

/**
 * Why `marker` is not the mark of an instant restore of `vm` from the backups in `vmDir`
 * (`vmDir/.snapdeck/instant/VM.json`, its folders real folders, not links), or null when it is.
 */
async function instantMarkProblem(vm: string, marker: string, vmDir: string): Promise<string | null> {
	const expected = path.join(instantMarkers(vmDir), `${vm}.json`);
	if (marker !== expected) return `not the mark of an instant restore of these backups (that is ${expected})`;
	for (const folder of [vmDir, path.dirname(instantMarkers(vmDir)), instantMarkers(vmDir)]) {
		const found = await lstat(folder).catch(() => null);
		if (found !== null && !found.isDirectory()) return `${folder} is not a folder (a link or a file)`;
	}
	return null;
}

interface FinishOptions {
	readonly signal?: AbortSignal;
	readonly onEvent?: (event: PlanEvent) => void;
}

/** Finishes an instant restore as `vm` that a kill or cancel left, under the VM's lock; says what it did. */
export async function finishInstantRestore(
	hypervisor: Hypervisor,
	vm: string,
	options: FinishOptions & {command: string},
): Promise<string | null> {
	const release = await hypervisor.lock(vm, options.command);
	try {
		return await finishInstantLocked(hypervisor, vm, options);
	} finally {
		await release();
	}
}

/**
 * With the VM's lock held: copies in what an instantly restored VM still reads from the
 * repository (streamed while it runs; offline where it is stopped: it is never started for
 * it), then lets prune at the point again. Journalled on the VM; says what it did.
 */
export async function finishInstantLocked(
	hypervisor: Hypervisor,
	vm: string,
	options: FinishOptions,
): Promise<string | null> {
	const roles = hypervisor.roles.instantRestores;
	const instant = roles ? await roles.instantOf(vm) : null;
	if (!roles || !instant) return null;
	const how = await roles.finishInstant(vm, {signal: options.signal, onBytes: byteProgress(options.onEvent)});
	await releaseInstant(instant.repository, vm);
	const words = `finished the instant restore of ${vm} from point ${instant.point}: ${
		how === 'stopped'
			? `${vm} is stopped, so what it still read from the repository was copied into its disks offline; it was not started`
			: how === 'running'
				? 'what it still read from the repository was streamed into its disks while it ran'
				: 'its disks read nothing from the repository any more'
	}`;
	await hypervisor.operations(vm).appendJournal({
		time: new Date().toISOString(),
		vm,
		action: 'recover',
		snapshot: instant.point,
		outcome: 'done',
		message: words,
	});
	return words;
}
