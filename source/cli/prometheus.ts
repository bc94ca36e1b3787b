import {SnapdeckError} from '../core/errors.js';
import {worstOf, type Severity} from '../core/health.js';
import type {VmHealth} from '../service/ports.js';

/** One connection as a health run saw it: its VMs, or why it could not be inspected. */
export type CheckedConnection =
	| {readonly connection: string; readonly vms: readonly VmHealth[]}
	| {readonly connection: string; readonly error: string};

/**
 * The textfile's mode unless --prometheus-mode says otherwise: node_exporter runs as its own user
 * (Debian: prometheus) and must read the file.
 */
export const PROMETHEUS_MODE = 0o644;

/** --prometheus-mode: an octal mode no wider than 0644 (a textfile others could write would let them forge metrics). */
export function prometheusMode(text: string | undefined): number {
	if (text === undefined) return PROMETHEUS_MODE;
	const mode = /^0?[0-7]{3}$/.test(text) ? Number.parseInt(text, 8) : Number.NaN;
	if (Number.isNaN(mode) || (mode & ~PROMETHEUS_MODE) !== 0) {
		throw new SnapdeckError(
			'usage',
			`--prometheus-mode takes an octal mode no wider than 0644 (such as 0640), got '${text}'`,
			"with 0640, give the folder the exporter's group and the setgid bit (chgrp prometheus DIR; chmod g+s DIR): the file takes that group",
		);
	}
	return mode;
}

const label = (value: string) => value.replaceAll('\\', '\\\\').replaceAll('"', '\\"').replaceAll('\n', '\\n');
const seconds = (iso: string) => Math.floor(Date.parse(iso) / 1000);

type Row = {readonly labels: string; readonly vm: VmHealth};
/** A gauge with a sample per VM: its name, its help, and its value (null: no sample for that VM). */
type VmGauge = readonly [name: string, help: string, value: (vm: VmHealth) => number | null];

const level: Record<Severity, number> = {ok: 0, warning: 1, critical: 2};
const HEALTH_GAUGE: VmGauge = [
	'snapdeck_vm_health',
	'Health of a VM: 0 ok, 1 warning, 2 critical.',
	vm => level[worstOf(vm.findings)],
];
/** The gauges per VM that follow its findings in the file, in their order. */
const VM_GAUGES: readonly VmGauge[] = [
	['snapdeck_chain_depth', "Deepest backing chain of a VM's disks.", vm => vm.chainDepth],
	[
		'snapdeck_last_backup_timestamp_seconds',
		'When the newest complete backup of a VM was taken.',
		vm => (vm.lastBackup ? seconds(vm.lastBackup) : null),
	],
	[
		'snapdeck_backup_rpo_seconds',
		"How old a VM's newest backup may be (its policy's backups.rpo).",
		vm => vm.rpoSeconds,
	],
	[
		'snapdeck_last_verified_restore_timestamp_seconds',
		'When a restore of a VM was last proved (its newest signed receipt: a restore test, a boot test or an audit).',
		vm => (vm.lastProvedRestore ? seconds(vm.lastProvedRestore) : null),
	],
	[
		'snapdeck_last_proved_point_timestamp_seconds',
		'When the newest point a signed receipt proves was taken.',
		vm => (vm.lastProvedPoint ? seconds(vm.lastProvedPoint) : null),
	],
	[
		'snapdeck_restore_proof_max_age_seconds',
		"How old a VM's newest restore proof may be (its policy's boot.every).",
		vm => vm.proofMaxAgeSeconds,
	],
];

const family = (name: string, help: string, samples: string[]) => [
	`# HELP ${name} ${help}`,
	`# TYPE ${name} gauge`,
	...samples,
];

/**
 * node_exporter's textfile format (Prometheus naming: units in names, timestamps as
 * `_timestamp_seconds`): whether each connection could be inspected (`snapdeck_up`), when this
 * run was, and per VM its health, findings, chain depth, newest backup, newest signed restore
 * proof and the limits its policy sets, which the alert rules in monitoring/ compare against.
 */
export function prometheusText(checked: readonly CheckedConnection[], now: Date): string {
	const rows: Row[] = checked.flatMap(entry =>
		'vms' in entry
			? entry.vms.map(vm => ({labels: `connection="${label(entry.connection)}",vm="${label(vm.vm)}"`, vm}))
			: [],
	);
	const perVm = ([name, help, value]: VmGauge) =>
		family(
			name,
			help,
			rows.flatMap(({labels, vm}) => {
				const sample = value(vm);
				return sample === null ? [] : [`${name}{${labels}} ${sample}`];
			}),
		);
	const runAt = Math.floor(now.getTime() / 1000);
	return `${[
		...family(
			'snapdeck_up',
			'Whether this health run could inspect the connection: 1 yes, 0 no (the VM metrics of a connection at 0 are missing).',
			checked.map(entry => `snapdeck_up{connection="${label(entry.connection)}"} ${'vms' in entry ? 1 : 0}`),
		),
		...family('snapdeck_last_run_timestamp_seconds', 'When the health run that wrote this file ran.', [
			`snapdeck_last_run_timestamp_seconds ${runAt}`,
		]),
		...perVm(HEALTH_GAUGE),
		...family('snapdeck_findings', 'Findings of a VM by rule and severity.', findingSamples(rows)),
		...VM_GAUGES.flatMap(perVm),
		// The name before snapdeck_last_run_timestamp_seconds, kept for dashboards and rules that use it.
		...family(
			'snapdeck_health_checked_timestamp_seconds',
			'When this health check ran (the same as snapdeck_last_run_timestamp_seconds).',
			[`snapdeck_health_checked_timestamp_seconds ${runAt}`],
		),
	].join('\n')}\n`;
}

/** snapdeck_findings: per VM, how many findings of each rule and severity. */
function findingSamples(rows: readonly Row[]): string[] {
	return rows.flatMap(({labels, vm}) => {
		const counts = new Map<string, number>();
		for (const finding of vm.findings) {
			const key = `rule="${label(finding.rule)}",severity="${finding.severity}"`;
			counts.set(key, (counts.get(key) ?? 0) + 1);
		}
		return [...counts].map(([key, count]) => `snapdeck_findings{${labels},${key}} ${count}`);
	});
}
