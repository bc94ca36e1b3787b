import type {BackupPoint} from './backup-manifest.js';
import type {Finding, FindingFacts, VmFacts} from './health.js';
import type {Policy} from './policy.js';
import {formatBytes, formatDuration, parseDuration} from './units.js';

/**
 * The context every health rule reads, and the rules about a VM's backup points: verified,
 * booted, audited, and what the next backup will be. The other rules, and the order they run in,
 * are health.ts's.
 */

export type Add = (
	rule: string,
	severity: Finding['severity'],
	message: string,
	fix?: Finding['fix'],
	facts?: FindingFacts,
) => void;
export const seconds = (milliseconds: number) => Math.round(milliseconds / 1000);
export const ms = (text: string) => parseDuration(text)!;
export const ago = (now: Date, iso: string) => now.getTime() - Date.parse(iso);

/** What every rule reads: the VM's facts, its policy, the time, and where its findings go. */
export interface RuleContext {
	readonly facts: VmFacts;
	readonly policy: Policy;
	readonly now: Date;
	readonly vm: string;
	readonly add: Add;
}

/** The rules about backups also read the complete points, oldest first, and the newest of them. */
export interface PointsContext extends RuleContext {
	readonly complete: readonly BackupPoint[];
	readonly newest: BackupPoint;
}

/** The newest verification: failed, never made, or too long ago. */
export function verifyRules({policy, now, vm, add, complete, newest}: PointsContext) {
	const verified = [...complete].reverse().find(point => point.verified !== null);
	if (newest.verified && !newest.verified.ok)
		add(
			'verify-failed',
			'critical',
			`the newest backup of ${vm} (${newest.id}) failed verification: ${newest.verified.message}`,
			'verify',
			{point: newest.id, verifiedAt: newest.verified.at},
		);
	else if (!verified) add('verify-missing', 'warning', `no backup of ${vm} was ever verified`, 'verify');
	else if (ago(now, verified.verified!.at) > ms(policy.backups.verifyEvery))
		add(
			'verify-age',
			'warning',
			`the last verification of ${vm}'s backups was ${formatDuration(ago(now, verified.verified!.at))} ago (policy '${policy.name}': every ${policy.backups.verifyEvery})`,
			'verify',
			{
				point: verified.id,
				ageSeconds: seconds(ago(now, verified.verified!.at)),
				everySeconds: seconds(ms(policy.backups.verifyEvery)),
				policy: policy.name,
			},
		);
}

/** The newest boot test: failed, never made, or too long ago. */
export function bootRules({policy, now, vm, add, complete, newest}: PointsContext, boot: NonNullable<Policy['boot']>) {
	const booted = [...complete].reverse().find(point => point.boot !== null);
	if (newest.boot && !newest.boot.ok)
		add(
			'boot-failed',
			'critical',
			`the newest backup of ${vm} (${newest.id}) did not boot: ${newest.boot.message}; see ${newest.boot.console} in its repository folder`,
			undefined,
			{point: newest.id, console: newest.boot.console},
		);
	else if (!booted)
		add(
			'boot-missing',
			'warning',
			`no backup of ${vm} was ever boot-tested (policy '${policy.name}' asks for it): snapdeck verify ${vm} --boot`,
		);
	else if (ago(now, booted.boot!.at) > ms(boot.every))
		add(
			'boot-age',
			'warning',
			`the last boot test of ${vm}'s backups was ${formatDuration(ago(now, booted.boot!.at))} ago (policy '${policy.name}': every ${boot.every}): snapdeck verify ${vm} --boot`,
			undefined,
			{
				point: booted.id,
				ageSeconds: seconds(ago(now, booted.boot!.at)),
				everySeconds: seconds(ms(boot.every)),
				policy: policy.name,
			},
		);
}

/**
 * Audits (backup --audit): the newest audit that failed is critical until a later one passes (the
 * bitmap missed writes; the chain it found is not the disk); with a policy's "audit", none within
 * its `every` is a warning.
 */
export function auditRules({policy, now, vm, add, complete}: PointsContext) {
	const audited = complete.filter(point => point.audit !== null).sort((a, b) => a.audit!.at.localeCompare(b.audit!.at));
	const last = audited.at(-1);
	if (last && !last.audit!.ok) {
		const disks = last.audit!.disks.filter(disk => !disk.ok).map(disk => disk.disk);
		add(
			'audit-failed',
			'critical',
			`the audit of backup ${last.id} of ${vm} (${last.audit!.at}) found ${disks.join(', ')} not reading as the backup: writes its dirty bitmap missed; the next backup is a full, and an audit of it clears this ('snapdeck backup ${vm} --audit')`,
			'backup',
			{point: last.id, auditedAt: last.audit!.at, disks},
		);
	}
	if (!policy.audit) return;
	const passed = audited.filter(point => point.audit!.ok).at(-1);
	if (!passed)
		add(
			'audit-age',
			'warning',
			`no backup of ${vm} was ever audited (policy '${policy.name}' asks for one every ${policy.audit.every}): 'snapdeck backup ${vm} --audit'`,
			'backup',
			{ageSeconds: null, everySeconds: seconds(ms(policy.audit.every)), policy: policy.name},
		);
	else if (ago(now, passed.audit!.at) > ms(policy.audit.every))
		add(
			'audit-age',
			'warning',
			`the last passing audit of ${vm}'s backups was ${formatDuration(ago(now, passed.audit!.at))} ago (policy '${policy.name}': every ${policy.audit.every}): 'snapdeck backup ${vm} --audit'`,
			'backup',
			{
				point: passed.id,
				ageSeconds: seconds(ago(now, passed.audit!.at)),
				everySeconds: seconds(ms(policy.audit.every)),
				policy: policy.name,
			},
		);
}

/** What the next backup will meet: disks that lost the newest point's bitmap (it will be a full), and too little room for a full. */
export function nextBackupRules({facts, vm, add, complete, newest}: PointsContext) {
	if (facts.bitmaps && newest.bitmap !== null) {
		const lacking = Object.entries(facts.bitmaps)
			.filter(([, names]) => !names.includes(newest.bitmap!))
			.map(([disk]) => disk);
		if (lacking.length > 0)
			add(
				'bitmap-missing',
				'warning',
				`${lacking.join(', ')} of ${vm} no longer carr${lacking.length === 1 ? 'ies' : 'y'} the dirty bitmap of backup ${newest.id} (a snapshot or revert since): the next backup will be a full`,
				'backup',
				{point: newest.id, disks: lacking},
			);
	}
	if (facts.repositoryFree !== null) {
		const full = [...complete].reverse().find(point => point.kind === 'full') ?? newest;
		const need = full.files.reduce((sum, file) => sum + file.size, 0);
		if (facts.repositoryFree < need)
			add(
				'repository-space',
				facts.repositoryFree < need / 4 ? 'critical' : 'warning',
				`the repository has ${formatBytes(facts.repositoryFree)} free, and a full backup of ${vm} takes about ${formatBytes(need)}: prune old points or add space`,
				undefined,
				{freeBytes: facts.repositoryFree, needBytes: need},
			);
	}
}
