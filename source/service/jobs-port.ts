import path from 'node:path';
import {SnapdeckError} from '../core/errors.js';
import type {PendingJob, Plan} from '../core/plan.js';
import {fileExists} from '../adapters/file-checks.js';
import {sweepGuestfsScratch} from '../adapters/guestfs-scratch.js';
import {readJournal} from '../adapters/state/journal.js';
import {releaseHeldLocksSync} from '../adapters/state/lock.js';
import {recoverJob} from '../jobs/run-job.js';
import {runPlan} from '../jobs/run-plan.js';
import {releaseInstant} from '../backup/instant.js';
import type {Repository} from '../backup/repository.js';
import {finishInstantLocked} from './leftovers.js';
import type {Jobs, PerformOptions, RecoveredJob, RecoverResult} from './ports.js';
import {scheduleOverview} from './schedule-state.js';
import type {SessionContext} from './session-context.js';

type RecoverOptions = Omit<PerformOptions, 'confirm' | 'dryRun'>;

/** The Jobs port: what ran (the journal) and what is due (the schedules, `snapdeck run`), recovering what a kill left, and the locks of this process. */
export const jobsPort = (session: SessionContext): Jobs => ({
	// This connection's: another host's VM of the same name is another VM.
	journal: async (vm, limit = 200) =>
		(await readJournal())
			.filter(record => (vm === null || record.vm === vm) && record.connection === session.hypervisor.uri)
			.slice(-limit),
	schedules: async (vm, now) => {
		const policyOf = await session.policyOf();
		// The target's own schedule is in the config: read only for a policy with off-site copies and none of its own.
		const offsite = policyOf(vm).offsite;
		const targetSchedule =
			offsite && offsite.schedule === undefined
				? (await import('../config/config.js')).loadConfig().config.offsite?.[offsite.target]?.schedule
				: undefined;
		return scheduleOverview(
			session.hypervisor.uri,
			[vm],
			policyOf,
			now,
			policy => policy.offsite?.schedule ?? targetSchedule,
		);
	},
	// One VM at a time (see scheduler.ts).
	runScheduled: async options => (await import('./scheduler.js')).runDue(session, options),
	recover: (vm, options) => recover(session, vm, options),
	releaseHeldLocks: () => releaseHeldLocksSync(),
});

/**
 * Finishes what a crash or a cancel interrupted: a plan (resumed), an instant restore's stream,
 * and a job on the VM's backups that a kill left (what it left is removed; one left half done
 * is cleared, the operator having been told what to do). Says what it did.
 */
async function recover(session: SessionContext, vm: string, options: RecoverOptions): Promise<RecoverResult> {
	const {hypervisor} = session;
	const exists = await session.identityOf(vm, true).then(identity => identity !== null);
	const repo = await session.boundRepository(vm);
	// Looked for first: finishing the VM's own stream below releases the mark that leads to its job's record.
	const marks = repo ? await repo.instantMarks(vm) : [];
	// A listing of a point's files is no job: what a killed one left is found by its process being gone.
	const did = (await sweepGuestfsScratch()).map(
		folder => `removed ${folder}, guestfish's scratch folder, which a killed listing of a point's files left`,
	);
	let plan: Plan | null = null;
	if (exists) {
		const release = await hypervisor.lock(vm, options.command);
		try {
			const finished = await finishInstantLocked(hypervisor, vm, options);
			if (finished) did.push(finished);
			plan = await resumePlan(session, vm, options);
		} finally {
			await release();
		}
	}
	const own = repo ? await recoverJobs(session, repo, vm, options.command) : {jobs: [], problems: []};
	// An instant restore as this VM is on record in the backups of the VM it was restored from.
	const instant = repo
		? await recoverInstantRecords(session, repo, vm, marks, options.command)
		: {jobs: [], problems: [], did: []};
	if (
		!exists &&
		own.jobs.length === 0 &&
		own.problems.length === 0 &&
		instant.jobs.length === 0 &&
		instant.did.length === 0 &&
		did.length === 0
	) {
		throw new SnapdeckError(
			'not-found',
			`there is no VM '${vm}' in ${hypervisor.uri}, and no instant restore as ${vm} is on record${repo ? ` in ${repo.root}` : ''}`,
			undefined,
			'no-such-vm',
		);
	}
	return {
		plan,
		jobs: [...own.jobs, ...instant.jobs],
		problems: [...own.problems, ...instant.problems],
		did: [...did, ...instant.did],
	};
}

/** Resumes the VM's unfinished plan, under its lock (held by the caller). */
async function resumePlan(session: SessionContext, vm: string, options: RecoverOptions): Promise<Plan | null> {
	const {hypervisor} = session;
	const operations = hypervisor.operations(vm);
	const pending = await operations.readPending();
	if (!pending) return null;
	const inspection = await hypervisor.inspect(vm);
	await runPlan(pending.plan, hypervisor.executor(inspection), operations, {...options, resume: pending});
	return pending.plan;
}

/** Recovers every job on the VM's backups that a kill left, under their lock; says what it did and what it could not act on. */
async function recoverJobs(
	session: SessionContext,
	repo: Repository,
	vm: string,
	command: string,
	only: (job: PendingJob) => boolean = () => true,
): Promise<{jobs: RecoveredJob[]; problems: string[]}> {
	const record = session.jobRecord(repo, vm);
	// Looked at before locking (locking makes the VM's folder there): records of jobs still running are not left.
	if (
		!(await record.store.list().catch(() => [])).some(entry => 'damaged' in entry || (entry.left && only(entry.record)))
	)
		return {jobs: [], problems: []};
	const release = await repo.lock(vm, command);
	try {
		const jobs: RecoveredJob[] = [];
		const problems: string[] = [];
		for (const entry of await record.store.list()) {
			if ('damaged' in entry) {
				problems.push(
					`${entry.damaged} is not a job record snapdeck wrote (${entry.problem}): nothing in it was acted on; look at it, and remove it if no snapdeck job runs there`,
				);
			} else if (entry.left && only(entry.record)) {
				jobs.push({
					job: entry.record,
					...(await recoverJob(record, entry.record, line => repo.journal(vm, line), true)),
				});
			}
		}
		return {jobs, problems};
	} finally {
		await release();
	}
}

/**
 * The records, in other VMs' backups, of instant restores as `vm` that a kill left (the mark
 * REPO/SOURCE/.snapdeck/instant/VM.json names them): recovered there (the work folder of a VM
 * never made removed, the mark released). A mark no record names (an older snapdeck's) goes
 * once the VM does not read the repository.
 */
async function recoverInstantRecords(
	session: SessionContext,
	repo: Repository,
	vm: string,
	marks: ReadonlyArray<{folder: string; source: string}>,
	command: string,
): Promise<{jobs: RecoveredJob[]; problems: string[]; did: string[]}> {
	const jobs: RecoveredJob[] = [];
	const problems: string[] = [];
	const did: string[] = [];
	for (const mark of marks) {
		const source = repo.bindFolder(mark.source, mark.folder);
		const recovered = await recoverJobs(session, source, mark.source, command, record =>
			record.debris.some(debris => debris.kind === 'instant' && debris.vm === vm),
		);
		jobs.push(...recovered.jobs);
		problems.push(...recovered.problems);
		if (recovered.jobs.length > 0) continue;
		const reads = await session.hypervisor.roles.instantRestores?.instantOf(vm).catch(() => null);
		if (reads || !(await fileExists(path.join(repo.root, mark.folder, '.snapdeck', 'instant', `${vm}.json`)))) continue;
		await releaseInstant(path.join(repo.root, mark.folder), vm);
		did.push(
			`removed the mark of an instant restore as ${vm} in ${path.join(repo.root, mark.folder)}: ${vm} reads nothing from it`,
		);
	}
	return {jobs, problems, did};
}
