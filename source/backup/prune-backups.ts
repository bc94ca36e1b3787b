import {Manifest} from '../core/backup-manifest.js';
import {headerProblems} from './point-headers.js';
import {cleanupRepository} from './repository-cleanup.js';
import {SnapdeckError} from '../core/errors.js';
import {
	handleStep,
	refuseSteps,
	type Plan,
	type PlanEvent,
	type PlanRunner,
	type StepExecutor,
	type StepHandlers,
} from '../core/plan.js';
import {planPrune} from '../core/prune-plan.js';
import {selectRetention, type Retention} from '../core/retention.js';
import {localRunner} from '../adapters/exec.js';
import {imageExecutor} from '../adapters/qemu/image-executor.js';
import {QemuImg} from '../adapters/qemu/qemu-img.js';
import {Repository} from './repository.js';
import {sha256File} from './hashing.js';
import {instantReaders} from './instant.js';
import {freeBytesNear} from '../adapters/file-checks.js';
import {isNoSpace} from '../adapters/safe-fs.js';
import {formatBytes} from '../core/units.js';

/** Runs prune plans in the repository: qemu-img on point files, and the manifest. */
function repositoryExecutor(repo: Repository, vm: string): StepExecutor {
	const images = imageExecutor(repo.vmDir(vm), new QemuImg(localRunner));
	const handlers: StepHandlers = {
		...images.handlers,
		'write-manifest': async (step, context) => {
			const manifest = Manifest.parse(step.manifest);
			const files = manifest.points.flatMap(point => point.files).filter(file => step.rehash.includes(file.file));
			for (const file of files) file.size = await repo.fileSize(vm, file.file);
			// The hashing reads every byte of the files it changed: its progress, by bytes read.
			const total = files.reduce((sum, file) => sum + file.size, 0);
			let read = 0;
			for (const file of files) {
				file.sha256 = await sha256File(repo.resolve(vm, file.file), context.signal, bytes => {
					read += bytes;
					context.onProgress(total > 0 ? read / total : 1);
				});
			}
			await repo.write(manifest);
		},
		...refuseSteps(
			['write-definition', 'stop-vm', 'start-vm'],
			op => new Error(`internal: a prune plan has no ${op} step`),
		),
	};
	return {
		execute: (step, context) => handleStep(handlers, step, context),
		rollback: step => images.rollback(step),
	};
}

export interface PruneOptions {
	readonly retention: Retention;
	readonly dryRun?: boolean;
	readonly command: string;
	readonly signal?: AbortSignal;
	readonly onEvent?: (event: PlanEvent) => void;
	/** Shown the plan; resolves true to go ahead. */
	readonly confirm: (plan: Plan) => Promise<boolean>;
	/** Told what was done to make room (a full repository's reserve given back). */
	readonly onWarning?: (text: string) => void;
}

/**
 * The repository's lock for a prune. A repository too full to hold even the lock file gives back
 * the reserve it keeps (Repository.keepReserve) first: prune is the way out of a full disk.
 */
async function lockForPrune(repo: Repository, vm: string, options: PruneOptions) {
	try {
		return await repo.lock(vm, options.command);
	} catch (error) {
		if (!isNoSpace(error) || !(await repo.releaseReserve())) throw error;
		options.onWarning?.(
			`the repository's file system is full: snapdeck gave back the ${formatBytes(Repository.RESERVE_BYTES)} it keeps in reserve for this, and prunes with it`,
		);
		return repo.lock(vm, options.command);
	}
}

export interface PruneResult {
	readonly plan: Plan;
	readonly keep: readonly string[];
	readonly remove: readonly string[];
	readonly outcome: 'done' | 'dry-run' | 'declined' | 'resumed';
}

/**
 * Applies a retention policy to a VM's points (Proxmox Backup Server's rules), its plan run by
 * `runPlan`. A prune a crash interrupted is finished first, from where it stopped.
 */
export async function pruneBackups(
	repo: Repository,
	vm: string,
	options: PruneOptions,
	runPlan: PlanRunner,
): Promise<PruneResult> {
	const release = await lockForPrune(repo, vm, options);
	try {
		// A VM restored instantly reads these points until its stream is done: they are not touched meanwhile.
		const readers = await instantReaders(repo.vmDir(vm));
		if (readers.length > 0)
			throw new SnapdeckError(
				'refused',
				`cannot prune the backups of ${vm} now: ${readers.join(', ')} ${readers.length === 1 ? 'was' : 'were'} restored instantly and still read${readers.length === 1 ? 's' : ''} its points`,
				`wait for that restore to finish, or run 'snapdeck recover ${readers[0]}' to finish it`,
			);
		const operations = repo.operations(vm);
		const pending = await operations.readPending();
		if (pending) {
			if (options.dryRun)
				throw new SnapdeckError(
					'interrupted',
					`the backups of ${vm} have an unfinished prune`,
					`run 'snapdeck prune ${vm}' without --dry-run to finish it`,
				);
			await runPlan(pending.plan, repositoryExecutor(repo, vm), operations, pending);
			return {plan: pending.plan, keep: [], remove: [], outcome: 'resumed'};
		}
		const {manifest} = options.dryRun
			? {manifest: await repo.read(vm)}
			: await cleanupRepository(repo, await repo.read(vm));
		const complete = manifest.points.filter(point => point.state === 'complete');
		const {keep, remove} = selectRetention(complete, options.retention);
		const plan = planPrune(manifest, remove);
		if (options.dryRun) return {plan, keep, remove, outcome: 'dry-run'};
		if (remove.length === 0) return {plan, keep, remove, outcome: 'done'};
		// Commits and rebases follow the files' headers: they must say what the manifest says.
		const headers = await headerProblems(
			repo,
			vm,
			complete.flatMap(point => point.files),
		);
		if (headers.length > 0)
			throw new SnapdeckError(
				'refused',
				`cannot prune the backups of ${vm}: ${headers.join('; ')}`,
				`nothing was changed; the repository was changed behind snapdeck's back: run 'snapdeck verify ${vm}'`,
			);
		const free = await freeBytesNear(repo.vmDir(vm));
		if (plan.space > free) {
			throw new SnapdeckError(
				'refused',
				`cannot prune the backups of ${vm}: merging the removed points into those kept needs ${formatBytes(plan.space)} free, and ${formatBytes(free)} is available`,
				'free some space on that file system, or prune with rules that remove whole chains (an old full and its incrementals) first: those need no room',
			);
		}
		if (!(await options.confirm(plan))) return {plan, keep, remove, outcome: 'declined'};
		await runPlan(plan, repositoryExecutor(repo, vm), operations);
		// The whole-VM archives of removed points: no point names them now (a crash before this leaves
		// them to the next run's clean-up, the same way).
		await cleanupRepository(repo, await repo.read(vm));
		await repo.keepReserve();
		return {plan, keep, remove, outcome: 'done'};
	} finally {
		await release();
	}
}
