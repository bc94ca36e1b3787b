import path from 'node:path';
import {withRecord} from '../core/offsite-claims.js';
import {formatBytes} from '../core/units.js';
import {targetLabel, type ResticTarget} from '../adapters/restic.js';
import {recordChange} from '../adapters/state/journal.js';
import {runJob, type Job} from '../jobs/run-job.js';
import {
	copyToTarget,
	planTargetPrune,
	pruneTarget,
	remoteClaims,
	type CopyOptions,
	type RemotePrunePlan,
} from '../backup/offsite-copy.js';
import {forgetCopies, readOffsiteState} from '../backup/offsite-record.js';
import {restoreFromTarget, type RemoteRestoreOptions} from '../backup/offsite-restore.js';
import {verifyTarget} from '../backup/offsite-verify.js';
import type {BackupsOf, Offsite} from './ports.js';
import {backupsLock, type SessionContext} from './session-context.js';
import {resolveTarget} from './targets.js';

/** The Offsite port: copies of points on restic targets (copy, list, restore, check, prune) and what this host knows of them. */
export const offsitePort = (session: SessionContext): Offsite => ({
	offsiteTargetOf: vm => offsiteTargetOf(session, vm),
	copy: (vm, target, options) => copy(session, vm, target, options),
	// Oldest first, each with whether this host's record names it as its copy.
	remoteBackups: async (target, vm, signal) => {
		const {points, recorded} = await remoteClaims(await session.boundRepository(vm), target, vm, signal);
		return withRecord(points, recorded);
	},
	restoreFrom: (target, vm, options) => restoreFrom(session, target, vm, options),
	// restic's check; the verdict is kept for health where the local repository is.
	verifyFrom: async (target, vm, options) => verifyTarget(await session.boundRepository(vm), target, vm, options),
	planPruneFrom: async (target, vm, retention, signal) =>
		planTargetPrune(await session.boundRepository(vm), target, vm, retention, signal),
	pruneFrom: (target, vm, plan, options) => pruneFrom(session, target, vm, plan, options),
	offsiteState: async vm => {
		const repo = await session.boundRepository(vm);
		return repo ? readOffsiteState(repo, vm) : {version: 1 as const, targets: []};
	},
});

/** The central journal's lines of a job on a target's points, under the target's name (no local repository holds them). */
const targetJournal = (target: ResticTarget, vm: string) => (entry: Parameters<Job<unknown>['journal']>[0]) =>
	recordChange(`restic ${targetLabel(target)}`, {time: new Date().toISOString(), vm, ...entry});

/** Copies a point to an off-site target (a restic repository; see backup/offsite-copy.ts). */
async function copy(session: SessionContext, vm: string, target: ResticTarget, options: CopyOptions & BackupsOf) {
	const repo = await session.repoOf(vm, {...options, gone: true});
	return session.pointJob(repo, vm, options.point, {
		kind: 'copy',
		command: options.command,
		signal: options.signal,
		locks: [backupsLock(repo, vm)],
		run: job => copyToTarget(repo, vm, target, options, job),
		describe: result =>
			`to ${targetLabel(target)}: snapshot ${result.snapshot.slice(0, 8)}, ${formatBytes(result.uploaded)} uploaded`,
	});
}

/**
 * Restores a point from an off-site target; the local repository need not exist. It stages
 * beside --to PATH, or in the local repository's folder for --as NAME.
 */
async function restoreFrom(session: SessionContext, target: ResticTarget, vm: string, options: RemoteRestoreOptions) {
	const repo = await session.repoOf(vm, {gone: true});
	const staging = options.to === undefined ? repo.root : path.dirname(path.resolve(options.to));
	return runJob({
		// Recorded in the local repository (made if it is not there yet): recover there finds what a kill left.
		kind: 'restore-from',
		command: options.command,
		signal: options.signal,
		locks: [],
		record: session.jobRecord(repo, vm),
		// The points come from the target: recorded in the central journal under its name.
		journal: targetJournal(target, vm),
		run: job => restoreFromTarget(repo, target, session.hypervisor, vm, staging, options, job),
		describe: ({restored, snapshot}) => `${Object.values(restored).join(', ')} (snapshot ${snapshot.slice(0, 8)})`,
	});
}

async function pruneFrom(
	session: SessionContext,
	target: ResticTarget,
	vm: string,
	plan: RemotePrunePlan,
	options: {signal?: AbortSignal; command: string},
) {
	const repo = await session.boundRepository(vm);
	return runJob({
		kind: 'prune-offsite',
		command: options.command,
		signal: options.signal,
		locks: [],
		// In the local repository's journal where there is one (health reads it), else in the central journal.
		journal: entry => (repo ? repo.journal(vm, entry) : targetJournal(target, vm)(entry)).catch(() => undefined),
		// This host's record forgets them too: a snapshot it named that is gone would read as removed by someone else.
		run: job =>
			pruneTarget(
				target,
				plan,
				{...options, onForgotten: async snapshots => (repo ? forgetCopies(repo, vm, target, snapshots) : undefined)},
				job,
			),
		describe: () => `on ${targetLabel(target)}`,
	});
}

/**
 * The off-site target a copy of the VM goes to when none is named: the one its policy names, else
 * the config's only one; or why there is none, naming the file to edit.
 */
async function offsiteTargetOf(
	session: SessionContext,
	vm: string,
): Promise<{target: ResticTarget; name: string} | {reason: string}> {
	const policy = (await session.policyOf())(vm);
	const {loadConfig} = await import('../config/config.js');
	const {config, path: file} = loadConfig();
	if (policy.offsite) return {target: resolveTarget(config, policy.offsite.target, file), name: policy.offsite.target};
	const names = Object.keys(config.offsite ?? {});
	if (names.length === 1) return {target: resolveTarget(config, names[0]!, file), name: names[0]!};
	const set = `set "offsite": {"target": NAME} in a policy for ${vm} there`;
	return {
		reason:
			names.length === 0
				? `${vm}: policy '${policy.name}' names no off-site target, and ${file} has none: add one under "offsite" there (a restic repository), or ${set}`
				: `${vm}: policy '${policy.name}' names no off-site target, and ${file} has ${names.length} (${names.join(', ')}): ${set}`,
	};
}
