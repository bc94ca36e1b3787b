import type {BackupPoint} from '../core/backup-manifest.js';
import type {VmSummary} from '../core/model.js';
import {formatBytes} from '../core/units.js';
import {safeText} from '../core/terminal-text.js';
import {ageText, journalLine, planLines, progressText} from '../core/describe.js';
import type {Plan} from '../core/plan.js';
import type {TreeView, VmHealth} from '../service/ports.js';
import type {JournalRecord} from '../core/plan.js';
import {worstOf, type Severity} from '../core/health.js';
import {duplicateClaims, duplicateProblem, type ListedPoint} from '../core/offsite-claims.js';

/** Columns lined up by what the terminal will show: each cell escaped first (a name with control characters is longer shown than stored). */
function table(rows: string[][]): string {
	const shown = rows.map(row => row.map(cell => safeText(cell)));
	const widths = shown[0]!.map((_, column) => Math.max(...shown.map(row => row[column]!.length)));
	return shown
		.map(row =>
			row
				.map((cell, column) => cell.padEnd(widths[column]!))
				.join('  ')
				.trimEnd(),
		)
		.join('\n');
}

export function renderList(uri: string, vms: readonly VmSummary[]): string {
	if (vms.length === 0) return `${uri}: no VMs`;
	const rows = [['NAME', 'STATE', 'DISKS', 'SNAPSHOTS', 'DEPTH', 'CURRENT']];
	for (const vm of vms) {
		rows.push([
			vm.name,
			vm.state,
			vm.disks.map(disk => `${disk.target}:${disk.file}`).join(' ') || '-',
			String(vm.snapshots),
			String(vm.chainDepth),
			vm.current ?? '-',
		]);
	}
	const errors = vms.filter(vm => vm.error).map(vm => `! ${vm.name}: ${vm.error}`);
	return [table(rows), ...errors].join('\n');
}

export function renderTree(view: TreeView, now = new Date()): string {
	const lines = [
		`${safeText(view.vm)}: ${view.snapshots.length} snapshot${view.snapshots.length === 1 ? '' : 's'}, current: ${safeText(view.current ?? '(none)')}`,
	];
	// One line per snapshot, whatever its metadata holds: a line break in a description must not make a line of its own
	// (it could pass for a snapshot, or for the "you are here" mark).
	for (const {node, prefix} of view.rows) {
		const {snapshot} = node;
		const kind = snapshot.memory ? 'internal+memory' : snapshot.kind;
		const marker = node.isCurrent ? '  <- you are here' : '';
		const description = snapshot.description ? `  ${safeText(snapshot.description)}` : '';
		lines.push(
			`${prefix}${safeText(snapshot.name)}  [${kind}, ${ageText(snapshot.createdAt, now)} ago]${description}${marker}`,
		);
	}
	if (view.current === null && view.snapshots.length > 0) lines.push('(the present state descends from no snapshot)');
	for (const problem of view.problems) lines.push(`! ${problem}`);
	for (const finding of view.findings) lines.push(`note: ${finding}`);
	if (view.pending)
		lines.push(
			`! unfinished ${view.pending.plan.action} of '${view.pending.plan.snapshot}': run 'snapdeck recover ${view.vm}'`,
		);
	return lines.join('\n');
}

export const renderPlan = (plan: Plan): string => planLines(plan).join('\n');
export const renderProgress = progressText;

export function renderBackups(vm: string, dir: string, points: readonly BackupPoint[], now = new Date()): string {
	if (points.length === 0) return `${vm}: no backups in ${dir}`;
	const booted = points.some(point => point.boot !== null);
	const rows = [['ID', 'KIND', 'AGE', 'SIZE', 'STATE', 'VERIFIED', ...(booted ? ['BOOTED'] : [])]];
	for (const point of points) {
		const verified = point.verified
			? `${point.verified.ok ? 'ok' : 'FAILED'} ${ageText(point.verified.at, now)} ago${point.verified.restoreTest ? ' (restore test)' : ''}`
			: 'never';
		const boot = point.boot ? `${point.boot.ok ? 'ok' : 'FAILED'} ${ageText(point.boot.at, now)} ago` : 'never';
		rows.push([
			point.id,
			point.kind,
			ageText(point.createdAt, now),
			formatBytes(point.files.reduce((sum, file) => sum + file.size, 0)),
			point.state,
			verified,
			...(booted ? [boot] : []),
		]);
	}
	return [`${vm}: ${points.length} backup point${points.length === 1 ? '' : 's'} in ${dir}`, table(rows)].join('\n');
}

const MARK: Record<Severity, string> = {ok: 'ok', warning: 'WARN', critical: 'CRIT'};

export function renderHealth(uri: string, vms: readonly VmHealth[], status: Severity): string {
	const counts = {ok: 0, warning: 0, critical: 0};
	for (const vm of vms) counts[worstOf(vm.findings)]++;
	const lines = [
		`${uri}: ${MARK[status]}: ${vms.length} VM${vms.length === 1 ? '' : 's'}, ${counts.ok} ok, ${counts.warning} with warnings, ${counts.critical} critical`,
	];
	for (const vm of vms) {
		for (const finding of vm.findings)
			lines.push(`${MARK[finding.severity].padEnd(4)}  ${vm.vm}  ${finding.rule}: ${finding.message}`);
	}
	return lines.join('\n');
}

/** What health checked on one connection: its VMs' findings. */
export interface HealthOfConnection {
	readonly connection: string;
	readonly vms: readonly VmHealth[];
}

/** `snapdeck health`'s text: each connection's line, then a line per finding. */
export const healthText = (inspected: readonly HealthOfConnection[]): string =>
	inspected
		.map(({connection, vms}) => renderHealth(connection, vms, worstOf(vms.flatMap(vm => vm.findings))))
		.join('\n');

/** `snapdeck health --json`: the status, each VM's findings, and every finding once more, flat. */
export function healthJson(inspected: readonly HealthOfConnection[], now: Date): object {
	const findings = inspected.flatMap(({vms}) => vms.flatMap(vm => vm.findings));
	const status = worstOf(findings);
	const vmsJson = (vms: readonly VmHealth[]) =>
		vms.map(vm => ({
			name: vm.vm,
			status: worstOf(vm.findings),
			policy: vm.policy,
			findings: vm.findings,
			lastBackup: vm.lastBackup,
			lastProvedRestore: vm.lastProvedRestore,
		}));
	return inspected.length === 1
		? {
				status,
				connection: inspected[0]!.connection,
				checkedAt: now.toISOString(),
				vms: vmsJson(inspected[0]!.vms),
				findings,
			}
		: {
				status,
				checkedAt: now.toISOString(),
				connections: inspected.map(({connection, vms}) => ({
					connection,
					status: worstOf(vms.flatMap(vm => vm.findings)),
					vms: vmsJson(vms),
				})),
				findings,
			};
}

export function renderLog(records: readonly JournalRecord[]): string {
	if (records.length === 0) return 'the journal is empty';
	return records
		.map(record => `${journalLine(record)}  [${record.user}@${record.host}, ${record.connection}]`)
		.join('\n');
}

/**
 * A VM's points on an off-site target. A point two snapshots claim is marked on each of its lines
 * (DUPLICATE, and whether this host made that copy) and explained below: one of them was added by
 * someone else who holds the target's password.
 */
export function renderRemoteBackups(vm: string, target: string, points: readonly ListedPoint[]): string {
	if (points.length === 0) return `${target} holds no point of ${vm}`;
	const mark = (point: ListedPoint) =>
		point.duplicate
			? `  DUPLICATE${point.recorded === true ? " (this host's copy)" : point.recorded === false ? ' (not copied from here)' : ''}`
			: '';
	const lines = points.map(
		point =>
			`  ${point.id}  ${point.kind.padEnd(11)}  ${point.disks.join(',')}  copied ${point.copiedAt.replace(/\.\d+.*$/, '')}  snapshot ${point.snapshot.slice(0, 8)}  by ${point.host ?? '?'}${mark(point)}`,
	);
	const duplicates = [...duplicateClaims(points)].map(([id, claims]) => duplicateProblem(id, claims));
	return [`points of ${vm} on ${target}:`, ...lines, ...duplicates].join('\n');
}
