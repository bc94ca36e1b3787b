import path from 'node:path';
import {SnapdeckError} from '../core/errors.js';
import {consistencyProblems} from '../core/consistency.js';
import {describeVm, identityTag, type VmIdentity} from '../core/identity.js';
import {DEFAULT_POLICY, type Policy} from '../core/policy.js';
import type {Hypervisor, Inspection} from '../adapters/hypervisor.js';
import {thisProcess} from '../adapters/state/operation-store.js';
import {runJob, type Job, type JobRecord, type Lock} from '../jobs/run-job.js';
import {Repository} from '../backup/repository.js';
import {debrisHandlers} from './leftovers.js';
import type {BackupsOf} from './ports.js';

export interface SessionOptions {
	/** The backup repository's directory, where backups are offered. */
	readonly repository?: string;
	/** Finds the repository (from the configuration) on first use: the UI draws its first frame before the configuration is read. */
	readonly findRepository?: () => Promise<string>;
	/** The policy of each VM (read from the config when first needed); the default policy when absent. */
	readonly policies?: () => Promise<(vm: string) => Policy>;
	/**
	 * The repository was named on the command line (--repo, SNAPDECK_REPO): its jobs are journalled
	 * in it and in the VMs' own journals only, and it is not added to this user's list of
	 * repositories; nothing is written outside what was named.
	 */
	readonly named?: boolean;
}

/** A job's journal: what runJob writes when it ends. */
type JobJournal = Job<unknown>['journal'];

/**
 * What every role of a session shares (the ports' modules, `*-port.ts`, each implement one):
 * the connection, the repository found once, the policies, and the few ways a job is put on a
 * VM or on its backups. Made once per session (session-ports.ts); no front end sees it.
 */
export class SessionContext {
	private resolvedRepository: Repository | null = null;
	private pending: Promise<Repository | null> | null = null;

	constructor(
		readonly hypervisor: Hypervisor,
		private readonly options: SessionOptions = {},
	) {
		if (options.repository !== undefined) this.resolvedRepository = this.openRepository(options.repository);
	}

	/** Whether the repository was named (SessionOptions.named): nothing is written outside it. */
	get named(): boolean {
		return this.options.named ?? false;
	}

	/** The repository, once known (at once when given as a directory, after first use otherwise). */
	get repository(): Repository | null {
		return this.resolvedRepository;
	}

	private openRepository(dir: string): Repository {
		return new Repository(dir, {connection: this.hypervisor.uri, central: !this.options.named});
	}

	/** The repository, found on first use; null when there is none to find. */
	pendingRepository(): Promise<Repository | null> {
		const {findRepository} = this.options;
		this.pending ??=
			this.resolvedRepository === null && findRepository
				? findRepository().then(dir => (this.resolvedRepository = this.openRepository(dir)))
				: Promise.resolve(this.resolvedRepository);
		return this.pending;
	}

	/**
	 * The repository, bound to the folder of this VM's backups (Repository.bind): the one of its
	 * identity; with `origin`, another VM's of the same name. `gone`: the VM need not be on the
	 * connection (a restore after a disaster): then the only folder of that name there is.
	 */
	async repoOf(vm: string, options: BackupsOf & {gone?: boolean} = {}): Promise<Repository> {
		const repo = await this.pendingRepository();
		if (!repo) throw new SnapdeckError('usage', 'no backup repository is configured', 'pass --repo DIR');
		await repo.bind(vm, await this.identityOf(vm, options.gone ?? false), options.origin);
		return repo;
	}

	/** The repository bound to the VM's folder, where there is a repository and the VM's folder can be told; else null. */
	async boundRepository(vm: string): Promise<Repository | null> {
		return this.repoOf(vm, {gone: true}).catch(() => null);
	}

	/** The VM's identity; null where it is not on the connection and `gone` allows that. */
	async identityOf(vm: string, gone: boolean): Promise<VmIdentity | null> {
		try {
			return await this.hypervisor.identity(vm);
		} catch (error) {
			// Not on the connection (nor the connection's lab there): its points are judged by what they are.
			if (gone && error instanceof SnapdeckError && (error.code === 'no-such-vm' || error.kind === 'not-found'))
				return null;
			throw error;
		}
	}

	/** Each VM's policy, from the config when the session was given one, else the default. */
	async policyOf(): Promise<(vm: string) => Policy> {
		return this.options.policies ? this.options.policies() : () => DEFAULT_POLICY;
	}

	/** The VMs' names alone, where the adapter can tell them cheaply; else from the inventory. */
	async names(): Promise<string[]> {
		return this.hypervisor.names ? this.hypervisor.names() : (await this.hypervisor.list()).map(vm => vm.name);
	}

	/**
	 * The adapter's inspection with core's consistency check added to its problems: the tree,
	 * health and every plan see the same list, and any entry blocks a change.
	 */
	async inspect(vm: string): Promise<Inspection> {
		const inspection = await this.hypervisor.inspect(vm);
		const more = consistencyProblems(inspection.state.definition, inspection.state.images).filter(
			problem => !inspection.problems.includes(problem),
		);
		return more.length === 0 ? inspection : {...inspection, problems: [...inspection.problems, ...more]};
	}

	/** The bitmaps on each disk; a running QEMU keeps them in memory until it stops, so it is asked, not the image file. */
	async bitmapsOf(inspection: Inspection): Promise<Record<string, readonly string[]> | null> {
		const {state} = inspection;
		if (state.run === 'running' && this.hypervisor.roles.backups)
			return this.hypervisor.roles.backups.liveBitmaps(inspection);
		return Object.fromEntries(
			state.definition.disks.map(disk => [disk.target, state.images[disk.file]?.bitmaps ?? []]),
		);
	}

	/** The VM's lock, as a job takes it. */
	vmLock(vm: string): Lock {
		return command => this.hypervisor.lock(vm, command);
	}

	/** The VM's own journal, as a job on the VM (not on its backups) writes it. */
	vmJournal(vm: string): JobJournal {
		const operations = this.hypervisor.operations(vm);
		return entry => operations.appendJournal({time: new Date().toISOString(), vm, ...entry});
	}

	/** Where a job on a VM's backups records itself while it runs, and how what a kill left is recovered. */
	jobRecord(repo: Repository, vm: string, subject?: string): JobRecord {
		return {
			store: repo.jobs(vm),
			vm,
			...(subject === undefined ? {} : {subject}),
			self: thisProcess(),
			debris: debrisHandlers(this.hypervisor, () => repo.vmDir(vm)),
			recoverMore: () => repo.recoverPartial(vm),
		};
	}

	/** Runs a job on the VM's backups: journalled there, and on record there while it runs (`subject`: see JobRecord). */
	backupsJob<T>(repo: Repository, vm: string, job: Omit<Job<T>, 'journal' | 'record'>, subject?: string): Promise<T> {
		return runJob({...job, journal: entry => repo.journal(vm, entry), record: this.jobRecord(repo, vm, subject)});
	}

	/** A job on one point of the VM's backups (backupsJob), where a point of another VM of its name is named as such (pointOfThisVm). */
	pointJob<T>(
		repo: Repository,
		vm: string,
		point: string | undefined,
		job: Omit<Job<T>, 'journal' | 'record'>,
	): Promise<T> {
		return this.pointOfThisVm(repo, vm, point, () => this.backupsJob(repo, vm, job));
	}

	/**
	 * Runs `work` on the VM's backups; a point it does not find there but another VM of the same
	 * name has is named as that VM's, with how to restore it deliberately (never as this VM's).
	 */
	async pointOfThisVm<T>(repo: Repository, vm: string, id: string | undefined, work: () => Promise<T>): Promise<T> {
		try {
			return await work();
		} catch (error) {
			if (id === undefined || !(error instanceof SnapdeckError) || error.code !== 'no-such-point') throw error;
			const other = await repo.otherPoint(vm, id);
			if (!other) throw error;
			const origin = other.identity ? identityTag(other.identity) : other.folder;
			throw new SnapdeckError(
				'not-found',
				`${id} is a point of ${describeVm(vm, other.identity)}, another VM of this name (${path.join(repo.root, other.folder)}), not of ${describeVm(vm, repo.bindingOf(vm)?.identity)}`,
				`a point of another VM is never restored as this one's; restore it deliberately as a new VM: 'snapdeck restore ${vm} --origin ${origin} --point ${id} --as NAME' (or --to PATH)`,
				'no-such-point',
			);
		}
	}
}

/** The lock of the VM's backups, as a job takes it. */
export const backupsLock =
	(repo: Repository, vm: string): Lock =>
	command =>
		repo.lock(vm, command);

/** Refuses to change another VM's backups as if they were this VM's (a point is restored over a VM only from its own). */
export function assertOwn(repo: Repository, vm: string, doing: string): void {
	const binding = repo.bindingOf(vm);
	if (!binding?.foreign) return;
	throw new SnapdeckError(
		'refused',
		`cannot ${doing}: ${path.join(repo.root, binding.foreign.folder)} holds the backups of ${describeVm(vm, binding.foreign.identity)}, not of ${describeVm(vm, binding.identity)}`,
		`a point of another VM is restored deliberately as a new VM ('--as NAME' or '--to PATH' with --origin ${binding.foreign.folder})`,
	);
}
