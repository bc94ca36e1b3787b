import type {VmSummary} from '../core/model.js';
import {planFiles, type Plan, type PlanEvent} from '../core/plan.js';
import {formatBytes} from '../core/units.js';
import type {TreeView} from '../service/service.js';

const age = (iso: string, now: Date) => {
	const minutes = Math.max(0, Math.round((now.getTime() - Date.parse(iso)) / 60_000));
	if (minutes < 60) return `${minutes}m`;
	if (minutes < 48 * 60) return `${Math.round(minutes / 60)}h`;
	return `${Math.round(minutes / 1440)}d`;
};

function table(rows: string[][]): string {
	const widths = rows[0]!.map((_, column) => Math.max(...rows.map(row => row[column]!.length)));
	return rows.map(row => row.map((cell, column) => cell.padEnd(widths[column]!)).join('  ').trimEnd()).join('\n');
}

export function renderList(uri: string, vms: readonly VmSummary[]): string {
	if (vms.length === 0) return `${uri}: no VMs`;
	const rows = [['NAME', 'STATE', 'DISKS', 'SNAPSHOTS', 'DEPTH', 'CURRENT']];
	for (const vm of vms) {
		rows.push([vm.name, vm.state, vm.disks.map(disk => `${disk.target}:${disk.file}`).join(' ') || '-', String(vm.snapshots), String(vm.chainDepth), vm.current ?? '-']);
	}
	const errors = vms.filter(vm => vm.error).map(vm => `! ${vm.name}: ${vm.error}`);
	return [table(rows), ...errors].join('\n');
}

export function renderTree(view: TreeView, now = new Date()): string {
	const lines = [`${view.vm}: ${view.snapshots.length} snapshot${view.snapshots.length === 1 ? '' : 's'}, current: ${view.current ?? '(none)'}`];
	for (const {node, prefix} of view.rows) {
		const {snapshot} = node;
		const kind = snapshot.memory ? 'internal+memory' : snapshot.kind;
		const marker = node.isCurrent ? '  <- you are here' : '';
		const description = snapshot.description ? `  ${snapshot.description}` : '';
		lines.push(`${prefix}${snapshot.name}  [${kind}, ${age(snapshot.createdAt, now)} ago]${description}${marker}`);
	}
	if (view.current === null && view.snapshots.length > 0) lines.push('(the present state descends from no snapshot)');
	for (const problem of view.problems) lines.push(`! ${problem}`);
	if (view.pending) lines.push(`! unfinished ${view.pending.plan.action} of '${view.pending.plan.snapshot}': run 'snapdeck recover ${view.vm}'`);
	return lines.join('\n');
}

export function renderPlan(plan: Plan): string {
	const lines = [`Plan: ${plan.summary}`];
	plan.steps.forEach((step, index) => {
		const cost = step.bytes > 0 ? `  (copies up to ${formatBytes(step.bytes)})` : '';
		lines.push(`  ${index + 1}. ${step.summary}${cost}`);
	});
	const files = planFiles(plan);
	const list = (label: string, names: string[]) => {
		if (names.length > 0) lines.push(`${label}: ${names.join(', ')}`);
	};
	list('Creates', files.creates);
	list('Writes', files.writes);
	list('Deletes', files.deletes);
	for (const discard of plan.discards) lines.push(`Discards: ${discard}`);
	for (const warning of plan.warnings) lines.push(`Note: ${warning}`);
	lines.push(`Copies up to ${formatBytes(plan.bytes)}; needs ${formatBytes(plan.space)} free.`);
	return lines.join('\n');
}

/** One progress line: percentage, bytes, rate and ETA. */
export function renderProgress(event: Extract<PlanEvent, {type: 'progress'}>): string {
	const percent = `${(event.fraction * 100).toFixed(0).padStart(3)}%`;
	const eta = event.eta === null ? '' : `, ETA ${Math.ceil(event.eta)}s`;
	return `${percent} ${formatBytes(event.bytesDone)}/${formatBytes(event.bytesTotal)} at ${formatBytes(event.rate)}/s${eta}`;
}
