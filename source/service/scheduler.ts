import {latestPoint} from '../core/points.js';
import type {BackupPoint} from '../core/backup-manifest.js';
import {SnapdeckError} from '../core/errors.js';
import type {Policy} from '../core/policy.js';
import {isDue, isScheduledSnapshot, scheduledSnapshotName} from '../core/schedule.js';
import {parseDuration} from '../core/units.js';
import {isRecordOf} from '../core/offsite-model.js';
import {writeJsonAtomic} from '../adapters/state/atomic-file.js';
import {recordChange} from '../adapters/state/journal.js';
import {readState, scheduleStateFile} from './schedule-state.js';
import type {Backups, Inventory, Offsite, Snapshots} from './ports.js';
import type {SessionContext} from './session-context.js';
import {portsOver, sessionPorts} from './session-ports.js';
import type {ResticTarget} from '../adapters/restic.js';

export interface RunOptions {
	readonly now: Date;
	readonly policyOf: (vm: string) => Policy;
	/** The repository directory for a policy (its "repository" resolved, else the default). */
	readonly repositoryFor: (policy: Policy) => string;
	readonly command: string;
	/** Told each thing done, as one line. */
	readonly onLine?: (line: string) => void;
	/** The off-site target a policy's "offsite" names (from the config). */
	readonly targetFor?: (name: string) => ResticTarget;
	/** When a policy's off-site copies are due (its own schedule, else its target's); none: after every backup. */
	readonly offsiteSchedule?: (policy: Policy) => string | undefined;
}

export interface TaskRun {
	readonly vm: string;
	readonly task: 'snapshots' | 'backups' | 'offsite' | 'boot';
	readonly outcome: 'done' | 'failed' | 'skipped';
	readonly actions: readonly string[];
	readonly message?: string;
}

/**
 * `snapdeck run`: every task due under the policies, one VM at a time. Snapshots: take a scheduled
 * snapshot, then merge away the oldest scheduled ones beyond `keep`. Backups: back up (auto),
 * prune to the retention, copy the newest point to the policy's off-site target (and check that
 * target when its `checkEvery` has passed), verify the newest point when `verifyEvery` has passed. A VM whose lock is
 * held is skipped and the skip recorded; it is due again at the next run.
 */
export async function runDue(session: SessionContext, options: RunOptions): Promise<TaskRun[]> {
	const {now} = options;
	const {hypervisor} = session;
	const uri = hypervisor.uri;
	const state = await readState();
	const runs: TaskRun[] = [];
	const names = await session.names();
	for (const vm of names) {
		const policy = options.policyOf(vm);
		for (const task of ['snapshots', 'backups', 'offsite', 'boot'] as const) {
			const schedule =
				task === 'offsite'
					? policy.offsite
						? options.offsiteSchedule?.(policy)
						: undefined
					: task === 'boot'
						? policy.boot?.schedule
						: policy[task].schedule;
			const key = `${uri}|${vm}|${task}`;
			if (schedule === undefined || !isDue(schedule, state[key]?.lastRun ?? null, now)) continue;
			const actions: string[] = [];
			const note = (line: string) => {
				actions.push(line);
				options.onLine?.(`${vm}: ${line}`);
			};
			let run: TaskRun;
			try {
				// Each VM's backups are in its policy's repository: a session on it for the tasks on them.
				if (task === 'snapshots') await snapshotTask(portsOver(session), vm, policy, options, note);
				else if (task === 'offsite')
					await offsiteTask(
						sessionPorts(hypervisor, {repository: options.repositoryFor(policy)}),
						vm,
						policy.offsite!,
						options,
						note,
					);
				else if (task === 'boot')
					await bootTask(
						sessionPorts(hypervisor, {
							repository: options.repositoryFor(policy),
							policies: async () => options.policyOf,
						}),
						vm,
						options,
						note,
					);
				else
					await backupTask(
						sessionPorts(hypervisor, {repository: options.repositoryFor(policy)}),
						vm,
						policy,
						options,
						note,
					);
				run = {vm, task, outcome: 'done', actions};
			} catch (error) {
				const message = error instanceof Error ? error.message : String(error);
				const locked = error instanceof SnapdeckError && error.kind === 'locked';
				run = {vm, task, outcome: locked ? 'skipped' : 'failed', actions, message};
				options.onLine?.(`${vm}: ${task} ${run.outcome}: ${message}`);
				await recordChange(uri, {
					time: now.toISOString(),
					vm,
					action: 'schedule',
					snapshot: task,
					outcome: 'failed',
					message: `${locked ? 'skipped, ' : ''}${message}`,
				});
			}
			runs.push(run);
			// A skipped task stays due; a failed one waits for its next occurrence (the journal has why).
			if (run.outcome !== 'skipped') state[key] = {lastRun: now.toISOString(), outcome: run.outcome};
			await writeJsonAtomic(scheduleStateFile(), state);
		}
	}
	return runs;
}

async function snapshotTask(
	service: Snapshots & Inventory,
	vm: string,
	policy: Policy,
	options: RunOptions,
	note: (line: string) => void,
) {
	const confirm = async () => true;
	const name = scheduledSnapshotName(options.now);
	const request = {
		name,
		kind: 'external' as const,
		description: `scheduled by policy '${policy.name}'`,
		quiesce: policy.snapshots.quiesce,
		now: options.now,
	};
	await service.perform({kind: 'take', vm, request}, {command: options.command, confirm});
	note(`took snapshot '${name}'`);
	const scheduled = (await service.tree(vm)).snapshots
		.filter(snapshot => isScheduledSnapshot(snapshot.name))
		.sort((a, b) => a.createdAt.localeCompare(b.createdAt));
	for (const old of scheduled.slice(0, Math.max(0, scheduled.length - policy.snapshots.keep))) {
		await service.perform({kind: 'merge', vm, snapshot: old.name}, {command: options.command, confirm});
		note(`merged away snapshot '${old.name}' (keeping ${policy.snapshots.keep})`);
	}
}

/** Whether a policy's audit is due: no point passed one within `every`. */
export function auditDue(points: readonly BackupPoint[], every: string, now: Date): boolean {
	const last = points
		.flatMap(point => (point.audit?.ok ? [Date.parse(point.audit.at)] : []))
		.sort((a, b) => a - b)
		.at(-1);
	return last === undefined || now.getTime() - last >= parseDuration(every)!;
}

async function backupTask(
	service: Backups & Offsite,
	vm: string,
	policy: Policy,
	options: RunOptions,
	note: (line: string) => void,
) {
	// An audit rides on the scheduled backup once the last passing one is older than the policy says.
	const audit = policy.audit !== undefined && auditDue(await service.backups(vm), policy.audit.every, options.now);
	const point = await service.backup(vm, {
		mode: 'auto',
		command: options.command,
		now: options.now,
		audit,
		onWarning: text => note(`warning: ${text}`),
	});
	note(`backed up: ${point.kind} point ${point.id}${point.reason ? ` (full because ${point.reason})` : ''}`);
	if (policy.backups.retention) {
		const result = await service.prune(vm, {
			retention: policy.backups.retention,
			command: options.command,
			confirm: async () => true,
		});
		if (result.remove.length > 0) note(`pruned ${result.remove.join(', ')}`);
	}
	// Without a schedule of their own, off-site copies follow every backup.
	if (policy.offsite && options.offsiteSchedule?.(policy) === undefined)
		await offsiteTask(service, vm, policy.offsite, options, note);
	const points = await service.backups(vm);
	const lastVerified = points
		.filter(candidate => candidate.state === 'complete')
		.map(candidate => candidate.verified?.at)
		.filter((at): at is string => at !== undefined)
		.sort()
		.at(-1);
	if (
		lastVerified === undefined ||
		options.now.getTime() - Date.parse(lastVerified) >= parseDuration(policy.backups.verifyEvery)!
	) {
		const newest = latestPoint(points)!;
		const [verdict] = await service.verify(vm, {
			point: newest.id,
			command: options.command,
			now: options.now,
			onWarning: text => note(`warning: ${text}`),
		});
		note(
			verdict!.ok ? `verified ${newest.id}` : `verification of ${newest.id} FAILED: ${verdict!.problems.join('; ')}`,
		);
		if (!verdict!.ok) throw new SnapdeckError('failed', `backup point ${newest.id} of ${vm} failed verification`);
	}
}

/** The newest point booted in a throwaway VM (verify --boot), as the policy's "boot" says. */
async function bootTask(service: Backups, vm: string, options: RunOptions, note: (line: string) => void) {
	const newest = latestPoint(await service.backups(vm));
	if (!newest) throw new SnapdeckError('not-found', `${vm} has no backup to boot`, undefined, 'no-backups');
	const result = await service.bootTest(vm, {
		point: newest.id,
		command: options.command,
		now: options.now,
		onWarning: text => note(`warning: ${text}`),
	});
	note(result.ok ? `booted ${newest.id}: ${result.message}` : `boot test of ${newest.id} FAILED: ${result.message}`);
	if (!result.ok) throw new SnapdeckError('failed', `backup point ${newest.id} of ${vm} did not boot`);
}

/** The newest point to the policy's off-site target; a check of the target when one is due. */
async function offsiteTask(
	service: Offsite,
	vm: string,
	offsite: NonNullable<Policy['offsite']>,
	options: RunOptions,
	note: (line: string) => void,
) {
	if (!options.targetFor)
		throw new SnapdeckError(
			'usage',
			`policy wants off-site copies to '${offsite.target}', and no target can be resolved here`,
		);
	const target = options.targetFor(offsite.target);
	const copied = await service.copy(vm, target, {command: options.command, now: options.now});
	note(
		copied.already
			? `point ${copied.point} is already on '${offsite.target}'`
			: `copied point ${copied.point} to '${offsite.target}' (${copied.uploaded} bytes uploaded)`,
	);
	const record = (await service.offsiteState(vm)).targets.find(isRecordOf(target.repository));
	if (
		!record?.lastCheck ||
		options.now.getTime() - Date.parse(record.lastCheck.at) >= parseDuration(offsite.checkEvery)!
	) {
		const verdict = await service.verifyFrom(target, vm, {command: options.command, now: options.now});
		note(
			verdict.ok
				? `checked '${offsite.target}' (read ${verdict.readData} of its data)`
				: `check of '${offsite.target}' FAILED: ${verdict.problems.join('; ')}`,
		);
		if (!verdict.ok) throw new SnapdeckError('failed', `off-site target '${offsite.target}' failed its check`);
	}
}
