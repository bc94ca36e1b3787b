import {chainDepth, mapLimited} from '../core/chain.js';
import type {BackupPoint} from '../core/backup-manifest.js';
import {errorMessage, SnapdeckError} from '../core/errors.js';
import {evaluateHealth, type VmFacts} from '../core/health.js';
import {describePendingJob} from '../core/plan.js';
import {latestPoint} from '../core/points.js';
import type {Policy} from '../core/policy.js';
import {parseDuration} from '../core/units.js';
import {fileExists, freeBytesNear} from '../adapters/file-checks.js';
import {judgeBitmaps} from '../backup/checkpoints.js';
import {readOffsiteState} from '../backup/offsite-record.js';
import {provedRestores} from '../backup/receipts.js';
import type {Repository} from '../backup/repository.js';
import {describePending} from './leftovers.js';
import type {Health, VmHealth} from './ports.js';
import type {SessionContext} from './session-context.js';

type HealthOptions = Parameters<Health['health']>[0];

/** What health reads of the repository for one VM: its own points (another host's VM of the same name has its own folder). */
interface VmBackups {
	readonly repo: Repository | null;
	readonly bound: boolean;
	readonly points: BackupPoint[];
	/** Its manifest, where it is there and cannot be read: the points are then unknown, not absent. */
	readonly unreadableManifest: VmFacts['unreadableManifest'];
	readonly repositoryFree: number | null;
}

/** The VM's points; a manifest that is there and cannot be read is said so, as `backups VM` says it, never taken for none. */
async function pointsOf(repo: Repository, vm: string): Promise<Pick<VmBackups, 'points' | 'unreadableManifest'>> {
	try {
		return {points: (await repo.read(vm)).points, unreadableManifest: null};
	} catch (error) {
		return {points: [], unreadableManifest: {file: repo.manifestFile(vm), problem: errorMessage(error)}};
	}
}

/** The Health port: every VM's health under its policy. */
export const healthPort = (session: SessionContext): Health => ({
	health: options => health(session, options),
});

/**
 * Health of every VM (or of `only`): the facts per VM (inspection, image checks, unfinished
 * operations, backup points, bitmaps, repository space) judged by the rules in core/health.ts
 * under each VM's policy.
 */
async function health(session: SessionContext, options: HealthOptions): Promise<VmHealth[]> {
	const policyOf = await session.policyOf();
	// Names alone where the adapter can tell them cheaply: each VM is inspected below anyway.
	const names = await session.names();
	const wanted = options.only ?? names;
	for (const name of wanted) {
		if (!names.includes(name))
			throw new SnapdeckError(
				'not-found',
				`there is no VM '${name}' in ${session.hypervisor.uri}`,
				names.length > 0 ? `its VMs are: ${[...names].sort().join(', ')}` : 'it has no VMs',
				'no-such-vm',
			);
	}
	const repo = await session.pendingRepository().catch(() => null);
	const repositoryFree = repo ? await freeBytesNear(repo.root) : null;
	return mapLimited(wanted, options.concurrency ?? 8, async vm => {
		const bound = repo
			? await repo.bind(vm, await session.hypervisor.identity(vm).catch(() => null)).then(
					() => true,
					() => false,
				)
			: false;
		const {points, unreadableManifest} =
			repo && bound ? await pointsOf(repo, vm) : {points: [], unreadableManifest: null};
		return vmHealth(session, vm, policyOf(vm), {repo, bound, points, unreadableManifest, repositoryFree}, options);
	});
}

/** One VM's findings under its policy, with the figures monitoring graphs. */
async function vmHealth(
	session: SessionContext,
	vm: string,
	policy: Policy,
	backups: VmBackups,
	options: HealthOptions,
): Promise<VmHealth> {
	const {repo, bound, points, repositoryFree} = backups;
	let facts: VmFacts;
	try {
		facts = await vmFacts(session, vm, policy, backups, options);
	} catch (error) {
		facts = {
			vm,
			unreadable: errorMessage(error),
			chainDepth: 0,
			snapshots: [],
			problems: [],
			findings: [],
			checks: [],
			pending: null,
			points,
			bitmaps: null,
			repositoryFree,
			canQuiesce: false,
		};
	}
	const lastBackup = latestPoint(points)?.createdAt ?? null;
	const proved = repo && bound ? await provedRestores(repo, vm).catch(() => null) : null;
	const provedPoint = latestPoint(points.filter(point => proved?.points.includes(point.id)))?.createdAt ?? null;
	const seconds = (duration: string | undefined) => (duration === undefined ? null : parseDuration(duration)! / 1000);
	return {
		vm,
		policy: policy.name,
		findings: evaluateHealth(facts, policy, options.now),
		lastBackup,
		chainDepth: facts.chainDepth,
		rpoSeconds: seconds(policy.backups.rpo),
		lastProvedRestore: proved?.at ?? null,
		lastProvedPoint: provedPoint,
		proofMaxAgeSeconds: seconds(policy.boot?.every),
	};
}

/** What health rules judge of a VM: its inspection, image checks, what a crash or kill left, bitmaps, quiescing, off-site copies. */
async function vmFacts(
	session: SessionContext,
	vm: string,
	policy: Policy,
	{repo, bound, points, unreadableManifest, repositoryFree}: VmBackups,
	options: HealthOptions,
): Promise<VmFacts> {
	const {hypervisor} = session;
	const inspection = await session.inspect(vm);
	const {state} = inspection;
	const pending = await hypervisor.operations(vm).readPending();
	const leftJobs = repo ? await leftJobsOf(repo, vm) : [];
	const bitmaps = await session.bitmapsOf(inspection);
	return {
		vm,
		unreadable: null,
		chainDepth: chainDepth(state),
		snapshots: state.definition.snapshots,
		problems: inspection.problems,
		findings: inspection.findings,
		checks:
			options.checkImages !== false && hypervisor.roles.imageChecks && inspection.problems.length === 0
				? (await hypervisor.roles.imageChecks.checkImages(inspection)).filter(
						check => check.errors + check.corruptions + check.leaks > 0,
					)
				: [],
		pending: pending ? describePending(vm, pending) : null,
		leftJobs,
		instant: await instantFacts(session, vm),
		points,
		unreadableManifest,
		repositoryFree,
		bitmaps,
		staleBitmaps: (
			await judgeBitmaps(
				vm,
				await hypervisor.identity(vm).catch(() => null),
				Object.values(bitmaps ?? {}).flat(),
				bound ? repo : null,
				hypervisor.operations(vm),
			)
		).flatMap(({name, stale}) => (stale === null ? [] : [{name, why: stale}])),
		canQuiesce:
			policy.snapshots.quiesce && hypervisor.roles.guestAgents
				? await hypervisor.roles.guestAgents.canQuiesce(vm)
				: false,
		offsite: policy.offsite && repo ? (await readOffsiteState(repo, vm)).targets : [],
		orphanedInternal: Object.values(state.images).flatMap(image =>
			image.internalSnapshots
				.filter(
					internal =>
						!state.definition.snapshots.some(
							snapshot => snapshot.name === internal.name && snapshot.kind === 'internal',
						),
				)
				.map(internal => ({file: image.file, name: internal.name})),
		),
	};
}

/** The instant restore a VM is still in, as health judges it: a job streaming it now is no problem; a repository folder gone is. */
async function instantFacts(session: SessionContext, vm: string): Promise<VmFacts['instant']> {
	const {roles} = session.hypervisor;
	const instant = await roles.instantRestores?.instantOf(vm).catch(() => null);
	if (!instant) return null;
	const holder = await roles.watching?.lockHolder(vm).catch(() => null);
	return {
		point: instant.point,
		repository: instant.repository,
		active: holder !== null && holder !== undefined,
		present: await fileExists(instant.repository),
	};
}

/** The jobs on the VM's backups that a kill left, in words, and records that are not snapdeck's (reported, never acted on). */
async function leftJobsOf(repo: Repository, vm: string): Promise<Array<{text: string; halfDone: boolean}>> {
	const stored = await repo
		.jobs(vm)
		.list()
		.catch(() => []);
	return stored.flatMap(entry => {
		if ('damaged' in entry)
			return [
				{
					text: `${entry.damaged} is not a job record snapdeck wrote (${entry.problem}); nothing in it is acted on: look at it, and remove it if no snapdeck job runs there`,
					halfDone: false,
				},
			];
		return entry.left ? [{text: describePendingJob(vm, entry.record), halfDone: entry.record.halfDone !== null}] : [];
	});
}
