import type {BackupPoint} from './backup-manifest.js';
import type {Snapshot} from './model.js';
import type {Policy} from './policy.js';
import {formatDuration} from './units.js';
import {isRecordOf} from './credentials.js';
import {
	ago,
	auditRules,
	bootRules,
	ms,
	nextBackupRules,
	seconds,
	verifyRules,
	type Add,
	type PointsContext,
	type RuleContext,
} from './point-rules.js';

export type Severity = 'ok' | 'warning' | 'critical';

/** One thing health found: which rule, how bad, on which VM, and what to do about it. */
export interface Finding {
	readonly rule: string;
	readonly severity: Exclude<Severity, 'ok'>;
	readonly vm: string;
	readonly message: string;
	/** The UI command that fixes it, where there is one (merge, backup, verify, recover, copy). */
	readonly fix?: 'merge' | 'backup' | 'verify' | 'recover' | 'copy';
	/**
	 * What the rule measured, as data (the message says the same in words): durations in seconds,
	 * sizes in bytes, the point, snapshot, file, disks or target concerned. In --json, in
	 * notifications' JSON, and in the UI's details of a finding; stable names per rule.
	 */
	readonly facts?: FindingFacts;
}

export type FindingFacts = Readonly<Record<string, string | number | boolean | null | readonly string[]>>;
/** Everything the rules look at for one VM; gathered by the service, judged here without I/O. */
export interface VmFacts {
	readonly vm: string;
	/** The inventory could not read the VM at all. */
	readonly unreadable: string | null;
	readonly chainDepth: number;
	readonly snapshots: readonly Snapshot[];
	/** Problems that block changes: missing backing files, unreadable images, broken metadata. */
	readonly problems: readonly string[];
	/** Inconsistencies that block nothing: overlays no snapshot knows, metadata that names another image. */
	readonly findings: readonly string[];
	/** `qemu-img check` of each image that reported something. */
	readonly checks: ReadonlyArray<{
		readonly file: string;
		readonly errors: number;
		readonly corruptions: number;
		readonly leaks: number;
	}>;
	/** An operation a crash or cancel left unfinished. */
	readonly pending: string | null;
	/** The instant restore the VM is still in (its disks read a backup point in a repository); `active` while a job streams it. */
	readonly instant?: {
		readonly point: string;
		readonly repository: string;
		readonly active: boolean;
		readonly present: boolean;
	} | null;
	/** Jobs on its backups that a kill left (a backup, a restore, a copy), or records not snapdeck's; half done when the operator must act. */
	readonly leftJobs?: ReadonlyArray<{readonly text: string; readonly halfDone: boolean}>;
	/** The VM's backup points, oldest first (empty without a repository). */
	readonly points: readonly BackupPoint[];
	/** Its manifest in the repository, where it cannot be read (damaged, not a manifest): its points are then unknown, not absent. */
	readonly unreadableManifest?: {readonly file: string; readonly problem: string} | null;
	/** The bitmaps on each disk's active image, by disk (to tell whether the next incremental will be a full). */
	readonly bitmaps: Readonly<Record<string, readonly string[]>> | null;
	/** Free bytes where its backups go; null when unknown. */
	readonly repositoryFree: number | null;
	/** Whether snapshots of this VM can be quiesced (a guest agent answers). */
	readonly canQuiesce: boolean;
	/** snapdeck's bitmaps (libvirt checkpoints) on the VM that no backup needs any more, with why. */
	readonly staleBitmaps?: ReadonlyArray<{readonly name: string; readonly why: string}>;
	/** Internal snapshots inside the VM's images that no snapshot metadata names (left by an earlier merge or tool). */
	readonly orphanedInternal?: ReadonlyArray<{readonly file: string; readonly name: string}>;
	/** What this host knows of the VM's copies to its policy's off-site target (by target name). */
	readonly offsite?: ReadonlyArray<{
		readonly name: string | null;
		readonly repository?: string;
		readonly lastCopy: {readonly at: string; readonly point: string} | null;
		readonly lastCheck: {readonly at: string; readonly ok: boolean; readonly message: string} | null;
	}>;
}

/**
 * The health rules, each a pure function of the facts, the VM's policy and the time. Rule ids are
 * stable (they appear in --json and Prometheus labels); findings come in the order of the rules here.
 */
export function evaluateHealth(facts: VmFacts, policy: Policy, now: Date): Finding[] {
	const {vm} = facts;
	const out: Finding[] = [];
	const add: Add = (rule, severity, message, fix, facts) =>
		out.push({rule, severity, vm, message, ...(fix ? {fix} : {}), ...(facts ? {facts} : {})});
	if (facts.unreadable) {
		add('vm-unreadable', 'critical', `${vm} cannot be read: ${facts.unreadable}`);
		return out;
	}
	const context: RuleContext = {facts, policy, now, vm, add};
	for (const rules of [unfinishedRules, imageRules, snapshotRules, backupRules]) rules(context);
	if (policy.offsite) offsiteRules(context, policy.offsite);
	return out;
}

/** What a crash, a kill or a stopped instant restore left unfinished. */
function unfinishedRules({facts, vm, add}: RuleContext) {
	if (facts.pending)
		add('unfinished-operation', 'critical', `${facts.pending}; run 'snapdeck recover ${vm}'`, 'recover');
	if (facts.instant && !facts.instant.active) {
		const {point, repository} = facts.instant;
		if (facts.instant.present)
			add(
				'instant-unfinished',
				'warning',
				`${vm} still reads point ${point} from ${repository}: its instant restore did not finish (the stream or the VM was stopped), and prune leaves that point alone until it does; run 'snapdeck recover ${vm}' to copy the rest in (offline, without starting it, where it is stopped)`,
				'recover',
				{point, repository, present: true},
			);
		else
			add(
				'instant-unfinished',
				'critical',
				`${vm}'s disks read point ${point} from ${repository}, which is gone: what it had not copied in is lost unless that folder comes back; put it back, then run 'snapdeck recover ${vm}'`,
				'recover',
				{point, repository, present: false},
			);
	}
	for (const left of facts.leftJobs ?? [])
		add(
			'unfinished-job',
			left.halfDone ? 'critical' : 'warning',
			`${left.text}; run 'snapdeck recover ${vm}'${left.halfDone ? ' once that is done' : ' to remove what it left'}`,
			'recover',
			{halfDone: left.halfDone},
		);
}

/** The images and their chains: broken, inconsistent, corrupt, leaking, too deep, or carrying what nothing needs. */
function imageRules({facts, policy, vm, add}: RuleContext) {
	for (const problem of facts.problems)
		add(
			'broken-chain',
			'critical',
			`${problem}; restore the missing or damaged image from a backup, or fix the metadata`,
		);
	for (const finding of facts.findings) add('inconsistent-metadata', 'warning', finding);
	for (const orphan of facts.orphanedInternal ?? []) {
		add(
			'orphaned-internal-snapshot',
			'warning',
			`${orphan.file} holds an internal snapshot '${orphan.name}' that no snapshot of ${vm} names (left by an earlier merge or another tool): it takes space, and nothing can revert to it; inspect it with 'qemu-img snapshot -l', then delete it`,
			undefined,
			{file: orphan.file, snapshot: orphan.name},
		);
	}
	for (const stale of facts.staleBitmaps ?? []) {
		add(
			'stale-checkpoint',
			'warning',
			`${vm} carries ${stale.name}, a change-tracking bitmap (a libvirt checkpoint) of snapdeck's that no backup needs: ${stale.why}. It costs every write, and other checkpoint-based backup tools (virtnbdbackup) refuse to run beside it: 'snapdeck checkpoints ${vm} --prune' removes it`,
			undefined,
			{checkpoint: stale.name},
		);
	}
	for (const check of facts.checks) {
		if (check.corruptions > 0 || check.errors > 0)
			add(
				'image-corrupt',
				'critical',
				`${check.file} fails qemu-img check (${check.corruptions} corruptions, ${check.errors} errors): copy it away, then repair it with 'qemu-img check -r all' or restore it from a backup`,
				undefined,
				{file: check.file, corruptions: check.corruptions, errors: check.errors},
			);
		else if (check.leaks > 0)
			add(
				'image-leaks',
				'warning',
				`${check.file} has ${check.leaks} leaked clusters (space lost, no data): 'qemu-img check -r leaks' while the VM is stopped reclaims them`,
				undefined,
				{file: check.file, leaks: check.leaks},
			);
	}
	if (facts.chainDepth > policy.maxChainDepth) {
		add(
			'chain-depth',
			facts.chainDepth > 2 * policy.maxChainDepth ? 'critical' : 'warning',
			`a disk's backing chain is ${facts.chainDepth} images deep (policy '${policy.name}' allows ${policy.maxChainDepth}): merge old snapshots`,
			'merge',
			{depth: facts.chainDepth, allowed: policy.maxChainDepth, policy: policy.name},
		);
	}
}

/** Snapshots kept too long, and quiesced snapshots asked for where no guest agent answers. */
function snapshotRules({facts, policy, now, vm, add}: RuleContext) {
	for (const snapshot of facts.snapshots) {
		const age = ago(now, snapshot.createdAt);
		if (age > ms(policy.snapshots.maxAge))
			add(
				'snapshot-age',
				'warning',
				`snapshot '${snapshot.name}' is ${formatDuration(age)} old (policy '${policy.name}': ${policy.snapshots.maxAge}); a snapshot is not a backup: merge it, and back up`,
				'merge',
				{
					snapshot: snapshot.name,
					ageSeconds: seconds(age),
					maxAgeSeconds: seconds(ms(policy.snapshots.maxAge)),
					policy: policy.name,
				},
			);
	}
	if (policy.snapshots.quiesce && !facts.canQuiesce)
		add(
			'quiesce-unavailable',
			'critical',
			`policy '${policy.name}' wants quiesced snapshots, and no guest agent answers in ${vm}`,
		);
}

/** The backups: one recent enough, then what the newest points say of verification, boot tests, audits and the next backup. */
function backupRules(context: RuleContext) {
	const {facts, policy, now, vm, add} = context;
	const complete = facts.points.filter(point => point.state === 'complete');
	const newest = complete.at(-1);
	const rpo = policy.backups.rpo === undefined ? null : ms(policy.backups.rpo);
	if (facts.unreadableManifest) {
		// What backups, commands and restores refuse to read is no "no backup yet": the points may all be there.
		const {file, problem} = facts.unreadableManifest;
		add(
			'backups-unreadable',
			'critical',
			`the manifest of ${vm}'s backups cannot be read (${problem}): no backup of ${vm} can be listed, verified, restored or added until it is repaired. Put back a good copy of ${file}, then 'snapdeck verify ${vm}'; or restore from an off-site copy ('snapdeck restore ${vm} --from TARGET'); or move the folder away and take a full backup`,
			undefined,
			{file},
		);
		return;
	}
	if (!newest) {
		add(
			'backup-missing',
			rpo === null ? 'warning' : 'critical',
			`${vm} has no backup${rpo === null ? '' : ` (policy '${policy.name}' wants one at most ${policy.backups.rpo} old)`}: snapshots are not backups`,
			'backup',
			{rpoSeconds: rpo === null ? null : seconds(rpo), policy: policy.name},
		);
		return;
	}
	const age = ago(now, newest.createdAt);
	if (rpo !== null && age > rpo)
		add(
			'backup-age',
			age > 2 * rpo ? 'critical' : 'warning',
			`the newest backup of ${vm} is ${formatDuration(age)} old (RPO ${policy.backups.rpo})`,
			'backup',
			{point: newest.id, ageSeconds: seconds(age), rpoSeconds: seconds(rpo), policy: policy.name},
		);
	const points: PointsContext = {...context, complete, newest};
	verifyRules(points);
	// Boot tests are asked for by the policy (a VM must be bootable from its vm.json for them).
	if (policy.boot) bootRules(points, policy.boot);
	auditRules(points);
	nextBackupRules(points);
}

/** A policy's off-site copies: one recent enough on its target, and the target checked recently and found good. */
function offsiteRules({facts, policy, now, vm, add}: RuleContext, offsite: NonNullable<Policy['offsite']>) {
	const record = facts.offsite?.find(
		candidate => candidate.name === offsite.target || isRecordOf(offsite.target)(candidate),
	);
	const limit = ms(offsite.maxAge);
	if (!record?.lastCopy) {
		if (facts.points.some(point => point.state === 'complete'))
			add(
				'offsite-missing',
				'warning',
				`no backup of ${vm} was copied to off-site target '${offsite.target}' from this host (policy '${policy.name}'): 'snapdeck copy ${vm} --target ${offsite.target}'`,
				'copy',
				{target: offsite.target, policy: policy.name},
			);
		return;
	}
	const age = ago(now, record.lastCopy.at);
	if (age > limit)
		add(
			'offsite-age',
			age > 2 * limit ? 'critical' : 'warning',
			`the newest copy of ${vm} on '${offsite.target}' is ${formatDuration(age)} old (policy '${policy.name}': ${offsite.maxAge}): 'snapdeck copy ${vm} --target ${offsite.target}'`,
			'copy',
			{
				target: offsite.target,
				point: record.lastCopy.point,
				ageSeconds: seconds(age),
				maxAgeSeconds: seconds(limit),
				policy: policy.name,
			},
		);
	if (record.lastCheck && !record.lastCheck.ok)
		add(
			'offsite-check-failed',
			'critical',
			`the last check of '${offsite.target}' (${record.lastCheck.at}) failed: ${record.lastCheck.message}; copy ${vm} there again, or to another target, and repair or replace it`,
			undefined,
			{target: offsite.target, checkedAt: record.lastCheck.at},
		);
	else if (!record.lastCheck || ago(now, record.lastCheck.at) > ms(offsite.checkEvery)) {
		add(
			'offsite-check-age',
			'warning',
			`${record.lastCheck ? `the last check of '${offsite.target}' was ${formatDuration(ago(now, record.lastCheck.at))} ago` : `'${offsite.target}' was never checked from this host`} (policy '${policy.name}': every ${offsite.checkEvery}): 'snapdeck verify ${vm} --from ${offsite.target}'`,
			undefined,
			{
				target: offsite.target,
				ageSeconds: record.lastCheck ? seconds(ago(now, record.lastCheck.at)) : null,
				everySeconds: seconds(ms(offsite.checkEvery)),
				policy: policy.name,
			},
		);
	}
}

/** The worst severity among findings. */
export const worstOf = (findings: readonly Finding[]): Severity =>
	findings.some(finding => finding.severity === 'critical') ? 'critical' : findings.length > 0 ? 'warning' : 'ok';

/** The Nagios/Icinga convention: 0 ok, 1 warning, 2 critical. */
export const healthExitCode = (severity: Severity): 0 | 1 | 2 =>
	severity === 'critical' ? 2 : severity === 'warning' ? 1 : 0;
