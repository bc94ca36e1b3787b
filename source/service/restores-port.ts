import {homedir} from 'node:os';
import path from 'node:path';
import {findPoint, type BackupPoint} from '../core/backup-manifest.js';
import {errorMessage, SnapdeckError} from '../core/errors.js';
import type {Plan} from '../core/plan.js';
import type {VmState} from '../core/model.js';
import type {JobContext} from '../core/progress.js';
import {roleOf} from '../adapters/hypervisor.js';
import {extractPointFiles} from '../backup/extract.js';
import {restoreInstant, type InstantOptions} from '../backup/instant.js';
import {listPointFiles, openPointBrowser, type PointFilesOptions} from '../backup/point-files.js';
import type {Repository} from '../backup/repository.js';
import {assertRestorable, restoreBackup, writePointInto, type RestoreOptions} from '../backup/restore.js';
import type {BackupsOf, Outcome, Restores} from './ports.js';
import {assertOwn, backupsLock, type SessionContext} from './session-context.js';
import {performLocked} from './snapshots-port.js';

type InPlaceOptions = Parameters<Restores['restoreInPlace']>[1];
type InPlaceResult = Awaited<ReturnType<Restores['restoreInPlace']>>;

/** The Restores port: a point brought back as a new VM or files, running at once, over the VM's own disks, or a file out of it. */
export const restoresPort = (session: SessionContext): Restores => ({
	restore: (vm, options) => restore(session, vm, options),
	restoreInstant: (vm, options) => instant(session, vm, options),
	restoreInPlace: (vm, options) => restoreInPlace(session, vm, options),
	// The filesystems of a point, or a folder in one, read through libguestfs (the point is only read).
	listFiles: async (vm, options) => {
		const repo = await session.repoOf(vm, {...options, gone: true});
		return session.pointOfThisVm(repo, vm, options.point, () => listPointFiles(repo, vm, options));
	},
	browseFiles: async (vm, options) => {
		const repo = await session.repoOf(vm, {...options, gone: true});
		return session.pointOfThisVm(repo, vm, options.point, () => openPointBrowser(repo, vm, options));
	},
	extractFiles: (vm, options) => extractFiles(session, vm, options),
});

async function restore(session: SessionContext, vm: string, options: RestoreOptions & BackupsOf) {
	const repo = await session.repoOf(vm, {...options, gone: true});
	return session.pointJob(repo, vm, options.point, {
		kind: 'restore',
		command: options.command,
		signal: options.signal,
		locks: [backupsLock(repo, vm)],
		run: job => restoreBackup(repo, session.hypervisor, vm, options, job),
		describe: restored => Object.values(restored).join(', '),
	});
}

/** Restores a point as a new VM that runs at once, its data streamed in while it runs (restore --instant). */
async function instant(session: SessionContext, vm: string, options: InstantOptions & BackupsOf) {
	const repo = await session.repoOf(vm, {...options, gone: true});
	// The repository is locked only while the point is marked as read (prune then leaves it alone): the stream runs long.
	// On record in the point's VM's backups: the mark that holds prune off and the new VM's work folder are registered there before they exist.
	return session.pointJob(repo, vm, options.point, {
		kind: 'restore-instant',
		command: options.command,
		signal: options.signal,
		locks: [],
		run: job => restoreInstant(repo, session.hypervisor, vm, options, job),
		describe: result =>
			`${result.vm} runs on its own disks, started after ${(result.startedAfterMs / 1000).toFixed(1)} s`,
	});
}

/**
 * A file or folder copied out of a point into a host folder (by default
 * ~/snapdeck-extract/VM-POINT), as data only: a job, written in its work folder there, so a
 * kill leaves nothing `recover` does not remove.
 */
async function extractFiles(
	session: SessionContext,
	vm: string,
	options: PointFilesOptions & BackupsOf & {to?: string},
) {
	const repo = await session.repoOf(vm, {...options, gone: true});
	const to = options.to ?? path.join(homedir(), 'snapdeck-extract', `${vm}-${options.point}`);
	return session.pointJob(repo, vm, options.point, {
		kind: 'extract',
		command: options.command,
		signal: options.signal,
		locks: [command => repo.lock(vm, command, {readOnly: true})],
		run: job => extractPointFiles(repo, vm, {...options, to}, job),
		describe: done =>
			`${done.device}:${done.path} to ${done.written}${done.skipped.length > 0 ? `, ${done.skipped.length} left out (not data)` : ''}`,
	});
}

/**
 * Restores a point over a stopped VM's own disks: first an external snapshot of the state it is
 * in (reverting to it undoes the restore), then each disk's new overlay is written to read
 * exactly as the point. The confirmation shows the snapshot's plan with what follows it.
 */
async function restoreInPlace(session: SessionContext, vm: string, options: InPlaceOptions): Promise<InPlaceResult> {
	const repo = await session.repoOf(vm, options);
	assertOwn(repo, vm, `restore a point over ${vm}`);
	const inPlace = roleOf(
		session.hypervisor,
		'inPlaceRestores',
		'restore in place',
		'restore with --to PATH or --as NAME',
	);
	const manifest = await repo.read(vm);
	const point = await session.pointOfThisVm(repo, vm, options.point, async () => findPoint(manifest, options.point));
	// Before the safety snapshot: a point known to be damaged is refused while nothing has changed.
	assertRestorable(manifest, point, options.force);
	// Both locks for the whole of it: no backup or prune of the point between the safety snapshot and the write.
	const result = await session.backupsJob(
		repo,
		vm,
		{
			kind: 'restore-in-place',
			command: options.command,
			signal: options.signal,
			locks: [session.vmLock(vm), backupsLock(repo, vm)],
			run: async (job): Promise<InPlaceResult & {images?: Readonly<Record<string, string>>}> => {
				const {state} = await session.hypervisor.inspect(vm);
				if (state.run !== 'stopped')
					throw new SnapdeckError(
						'refused',
						`${vm} is ${state.run}; a restore in place needs it stopped`,
						`stop it ('snapdeck stop ${vm}'), then run the restore again`,
					);
				const {plan, outcome, snapshot} = await takeSafetySnapshot(session, vm, state, point, options);
				if (outcome !== 'done') return {plan, outcome, snapshot};
				job.step('snapshot-taken');
				const images = await inPlace.activeImages(vm);
				await writeOver(repo, vm, point, snapshot, images, options, job);
				return {plan, outcome, snapshot, images};
			},
			describe: ({images}) => `in place: ${Object.values(images ?? {}).join(', ')}`,
		},
		point.id,
	);
	return {plan: result.plan, outcome: result.outcome, snapshot: result.snapshot};
}

/** The external snapshot a restore in place can be undone to, its plan confirmed as the restore's (the VM's lock held). */
async function takeSafetySnapshot(
	session: SessionContext,
	vm: string,
	state: VmState,
	point: BackupPoint,
	options: InPlaceOptions,
): Promise<{plan: Plan; outcome: Outcome; snapshot: string}> {
	const taken = new Set(state.definition.snapshots.map(snapshot => snapshot.name));
	let snapshot = `before-restore-${point.id}`;
	for (let n = 2; taken.has(snapshot); n++) snapshot = `before-restore-${point.id}-${n}`;
	const request = {
		name: snapshot,
		description: `state before point ${point.id} was restored over it`,
		kind: 'external' as const,
		now: options.now ?? new Date(),
	};
	// The restore's plan: the snapshot's steps, said as the restore they begin. The question shows
	// it, and so does what is returned (--dry-run prints that, and must print what would be asked).
	const asRestore = (taking: Plan): Plan => ({
		...taking,
		summary: `restore point ${point.id} (${point.kind}, ${point.createdAt}) over ${vm}'s disks, after taking snapshot '${snapshot}' of the state it is in now`,
		warnings: [
			...taking.warnings,
			`then ${point.files.map(file => file.disk).join(', ')} will read as point ${point.id}; revert to '${snapshot}' to undo the restore`,
		],
	});
	const {plan, outcome} = await performLocked(
		session,
		{kind: 'take', vm, request},
		{
			command: options.command,
			signal: options.signal,
			onEvent: options.onEvent,
			confirm: taking => options.confirm(asRestore(taking)),
		},
	).catch((error: unknown) => {
		// libvirt will not snapshot a stopped domain that has backup checkpoints, and a restore in
		// place needs it stopped: the way out is another, not "do it while it runs".
		if (error instanceof SnapdeckError && error.code === 'checkpoint-blocks-snapshot') {
			throw new SnapdeckError(
				error.kind,
				`cannot restore in place: ${error.message}`,
				`restore the point as a new VM instead (--as NAME), or drop ${vm}'s backup checkpoints ('virsh checkpoint-delete ${vm} NAME --metadata'; the next backup is then a full) and run the restore again`,
				error.code,
			);
		}
		throw error;
	});
	return {plan: asRestore(plan), outcome, snapshot};
}

/** Writes the point into the VM's new overlays (after the safety snapshot): half done until it ends, with the two ways out. */
async function writeOver(
	repo: Repository,
	vm: string,
	point: BackupPoint,
	snapshot: string,
	images: Readonly<Record<string, string>>,
	options: InPlaceOptions,
	job: JobContext,
): Promise<void> {
	await job.halfDone(
		`${vm}'s disks may be half restored to point ${point.id}: run the same restore again to finish it, or 'snapdeck revert ${vm} ${snapshot}' to go back to the state before it and then 'snapdeck recover ${vm}'`,
	);
	try {
		await writePointInto(
			repo,
			vm,
			point.id,
			images,
			{signal: options.signal, onEvent: options.onEvent, force: options.force},
			job,
		);
	} catch (error) {
		throw new SnapdeckError(
			'interrupted',
			`the restore of point ${point.id} over ${vm} stopped part way: ${errorMessage(error)}`,
			`run the same restore again to finish it, or 'snapdeck revert ${vm} ${snapshot}' to go back to the state before it, then 'snapdeck recover ${vm}'`,
			options.signal?.aborted ? 'cancelled' : 'stopped-part-way',
		);
	}
}
