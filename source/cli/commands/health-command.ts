import {errorMessage, SnapdeckError} from '../../core/errors.js';
import {healthExitCode, worstOf} from '../../core/health.js';
import type {HealthVerdict} from '../../core/notifications.js';
import {healthJson, healthText} from '../render.js';
import {prometheusMode, prometheusText, type CheckedConnection} from '../prometheus.js';
import {
	canonicalUri,
	connectionUris,
	note,
	openSessionOn,
	parseNow,
	print,
	printJson,
	repositoryDir,
	repositoryNamed,
	tellHealthChanges,
	writeReport,
} from '../support.js';
import type {FlagTable} from '../flags.js';
import {defineCommand, type CommandFlags} from '../command.js';

type Inspected = Extract<CheckedConnection, {vms: unknown}>;

const OWN_FLAGS = {
	prometheus: {
		type: 'string',
		value: 'FILE',
		help: "also write the findings as a Prometheus textfile for node_exporter (atomically, mode 0644), also when health cannot tell (snapdeck_up 0); '-': to standard output, in place of the text",
	},
	'prometheus-mode': {
		type: 'string',
		value: 'MODE',
		help: "the textfile's mode, no wider than 0644 (default); 0640 with the folder's group set to the exporter's",
	},
} as const satisfies FlagTable;
/** The flags its run and its helpers read: the shared ones and its own. */
type Flags = CommandFlags<typeof OWN_FLAGS>;

export default defineCommand({
	name: 'health',
	order: 170,
	summary: 'is everything healthy? findings, with what to do',
	description: 'Exit 0 ok, 1 warnings, 2 critical, 3 could not tell.',
	args: [
		{
			key: 'vms',
			name: 'VM',
			kind: 'vm',
			optional: true,
			variadic: true,
			help: 'the VMs to check (one connection only); default: every VM',
		},
	],
	globals: ['now'],
	examples: [
		{
			line: 'snapdeck health --prometheus /var/lib/node_exporter/snapdeck.prom',
			does: "every VM's findings, also as a textfile for node_exporter",
		},
	],
	flags: ['prometheus', 'prometheus-mode'],
	ownFlags: OWN_FLAGS,
	backups: true,
	async run({args, flags}) {
		const report = reportOf(flags);
		const {uris, now, checked, causes} = await checkConnections(args.vms, flags, report);
		if (report) await emitReport(report, prometheusText(checked, now));
		// Each change told once to the config's notifiers; a connection left out for a mistake of this command line's (a VM name) is no change.
		await tellHealthChanges(
			checked.flatMap((entry, index) => verdictOf(entry, causes.get(uris[index]!), args.vms.length === 0)),
			now,
			note,
		);
		const failed = uris.find(uri => causes.has(uri));
		if (failed !== undefined) throw causes.get(failed);
		// The textfile on standard output stands in for the findings' text there.
		return printHealth(checked as Inspected[], now, report?.file === STDOUT ? 'none' : flags.json ? 'json' : 'text');
	},
});

type Report = {readonly file: string; readonly mode: number};

/** `--prometheus -`: the textfile on standard output (to pipe into promtool or a push), not a file named '-'. */
const STDOUT = '-';

function reportOf(flags: Flags): Report | null {
	if (flags.prometheus === undefined && flags['prometheus-mode'] !== undefined)
		throw new SnapdeckError('usage', '--prometheus-mode goes with --prometheus FILE');
	if (flags.prometheus === STDOUT && (flags.json || flags['prometheus-mode'] !== undefined))
		throw new SnapdeckError(
			'usage',
			`--prometheus - writes the textfile to standard output: ${flags.json ? '--json would write there too' : '--prometheus-mode is for a file'}`,
			'give --prometheus a FILE instead',
		);
	return flags.prometheus === undefined
		? null
		: {file: flags.prometheus, mode: prometheusMode(flags['prometheus-mode'])};
}

/** Writes the textfile atomically, or to standard output for `--prometheus -`. */
const emitReport = async (report: Report, text: string) =>
	report.file === STDOUT ? void print(text.replace(/\n$/, '')) : writeReport(report.file, text, report.mode);

/** Inspects each connection: what it found, or why it could not (in `causes`, by URI); where even that could not start, says so in the textfile too. */
async function checkConnections(only: readonly string[], flags: Flags, report: Report | null) {
	let now = new Date();
	let uris: string[] = [];
	const causes = new Map<string, unknown>();
	try {
		uris = await connectionUris(flags.connect);
		now = parseNow(flags.now);
		if (uris.length > 1 && only.length > 0)
			throw new SnapdeckError('usage', 'name VMs only with one connection', 'choose it with --connect');
		const repository = await repositoryDir(flags.repo);
		const checked: CheckedConnection[] = await Promise.all(
			uris.map(uri =>
				inspect(uri, {repository, named: repositoryNamed(flags.repo), now, only}).catch((error: unknown) => {
					causes.set(uri, error);
					return {connection: canonicalUri(uri), error: errorMessage(error)};
				}),
			),
		);
		return {uris, now, checked, causes};
	} catch (error) {
		// Health could not tell: the textfile still says so (snapdeck_up 0), so alerts stop trusting the last good values.
		if (report)
			await emitReport(report, prometheusText(downConnections(uris, flags, error), now)).catch((writeError: unknown) =>
				note(`snapdeck: the Prometheus textfile was not written either: ${errorMessage(writeError)}`),
			);
		throw error;
	}
}

/** The findings of every connection, as JSON, as text or not at all (the textfile on standard output instead); the exit code says the worst of them. */
function printHealth(inspected: readonly Inspected[], now: Date, output: 'text' | 'json' | 'none') {
	if (output === 'json') printJson(healthJson(inspected, now));
	else if (output === 'text') print(healthText(inspected));
	return healthExitCode(worstOf(inspected.flatMap(({vms}) => vms.flatMap(vm => vm.findings))));
}

async function inspect(
	uri: string,
	options: {repository: string; named: boolean; now: Date; only: readonly string[]},
): Promise<Inspected> {
	const svc = await openSessionOn(uri, {repository: options.repository, named: options.named});
	const vms = await svc.health({now: options.now, only: options.only.length > 0 ? options.only : undefined});
	return {connection: svc.connection.uri, vms};
}

/** Every connection of a run that could not tell; where not even their names could be read (a broken config), the ones given, else one without a name. */
function downConnections(uris: readonly string[], flags: Flags, error: unknown): CheckedConnection[] {
	const given =
		flags.connect && flags.connect.length > 0
			? flags.connect
			: process.env['SNAPDECK_CONNECT'] === undefined
				? []
				: [process.env['SNAPDECK_CONNECT']];
	const names = uris.length > 0 ? uris : given.length > 0 ? given : [''];
	return names.map(uri => ({connection: uri === '' ? '' : canonicalUri(uri), error: errorMessage(error)}));
}

/** What notifications are told of a connection: its VMs' health, or that it could not be inspected. */
function verdictOf(
	entry: CheckedConnection,
	cause: unknown,
	complete: boolean,
): Array<{connection: string; verdict: HealthVerdict}> {
	if ('vms' in entry)
		return [
			{
				connection: entry.connection,
				verdict: {
					up: true,
					complete,
					vms: entry.vms.map(vm => ({vm: vm.vm, status: worstOf(vm.findings), findings: vm.findings})),
				},
			},
		];
	return isMistake(cause) ? [] : [{connection: entry.connection, verdict: {up: false, error: entry.error}}];
}

/** An error of the command line's own making (a VM that is not there, a bad name): not a connection that is down. */
const isMistake = (error: unknown) =>
	error instanceof SnapdeckError && ['usage', 'no-such-vm', 'bad-name'].includes(error.code);
