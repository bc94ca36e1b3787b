import {parseArgs} from 'node:util';
import {SnapdeckError, exitCodeFor} from '../core/errors.js';

const OPTIONS = {
	connect: {type: 'string', multiple: true},
	json: {type: 'boolean', default: false},
	yes: {type: 'boolean', short: 'y', default: false},
	'dry-run': {type: 'boolean', default: false},
	description: {type: 'string'},
	internal: {type: 'boolean', default: false},
	memory: {type: 'boolean', default: false},
	quiesce: {type: 'boolean', default: false},
	dir: {type: 'string'},
	all: {type: 'boolean', default: false},
	repo: {type: 'string'},
	full: {type: 'boolean', default: false},
	incremental: {type: 'boolean', default: false},
	'no-compress': {type: 'boolean', default: false},
	'with-snapshots': {type: 'boolean', default: false},
	point: {type: 'string'},
	limit: {type: 'string'},
	now: {type: 'string'},
	prometheus: {type: 'string'},
	'restore-test': {type: 'boolean', default: false},
	boot: {type: 'boolean', default: false},
	extract: {type: 'string'},
	instant: {type: 'boolean', default: false},
	timeout: {type: 'string'},
	from: {type: 'string'},
	'read-data': {type: 'boolean', default: false},
	to: {type: 'string'},
	as: {type: 'string'},
	'in-place': {type: 'boolean', default: false},
	force: {type: 'boolean', default: false},
	prune: {type: 'boolean', default: false},
	'keep-last': {type: 'string'},
	'keep-hourly': {type: 'string'},
	'keep-daily': {type: 'string'},
	'keep-weekly': {type: 'string'},
	'keep-monthly': {type: 'string'},
	'keep-yearly': {type: 'string'},
	help: {type: 'boolean', short: 'h', default: false},
	version: {type: 'boolean', default: false},
} as const;

export type CliFlags = {
	/** One or several connections (URIs or names from the config). */
	connect?: string[];
	json: boolean;
	yes: boolean;
	'dry-run': boolean;
	description?: string;
	internal: boolean;
	memory: boolean;
	quiesce: boolean;
	dir?: string;
	all: boolean;
	repo?: string;
	full: boolean;
	incremental: boolean;
	'no-compress': boolean;
	'with-snapshots': boolean;
	point?: string;
	limit?: string;
	now?: string;
	prometheus?: string;
	'restore-test': boolean;
	boot: boolean;
	extract?: string;
	instant: boolean;
	timeout?: string;
	from?: string;
	'read-data': boolean;
	to?: string;
	as?: string;
	'in-place': boolean;
	force: boolean;
	prune: boolean;
	'keep-last'?: string;
	'keep-hourly'?: string;
	'keep-daily'?: string;
	'keep-weekly'?: string;
	'keep-monthly'?: string;
	'keep-yearly'?: string;
};

function reportError(error: unknown, json: boolean): number {
	const code = exitCodeFor(error);
	const known = error instanceof SnapdeckError;
	const message = error instanceof Error ? error.message : String(error);
	const hint = known ? error.hint : undefined;
	if (json) {
		process.stdout.write(`${JSON.stringify({type: 'error', error: {kind: known ? error.kind : 'failed', message, hint: hint ?? null}, exitCode: code})}\n`);
	}
	process.stderr.write(`snapdeck: ${message}\n${hint ? `  ${hint}\n` : ''}`);
	if (!known && process.env['SNAPDECK_DEBUG']) process.stderr.write(`${(error as Error).stack}\n`);
	return code;
}

export async function main(argv: string[]): Promise<number> {
	let parsed;
	try {
		parsed = parseArgs({args: argv, options: OPTIONS, allowPositionals: true, strict: true});
	} catch (error) {
		return reportError(new SnapdeckError('usage', (error as Error).message.split('\n')[0]!, "see 'snapdeck --help'"), argv.includes('--json'));
	}
	const {values, positionals} = parsed;
	if (values.version) {
		process.stdout.write('snapdeck 0.1.0\n');
		return 0;
	}
	if (positionals.length === 0 && !values.help && process.stdout.isTTY && process.stdin.isTTY) {
		try {
			// The first frame comes before the commands module (and with it the adapters, zod and
			// the configuration) is loaded; the repository is read from the config on first use.
			const {openUi} = await import('./open-ui.js');
			return await openUi((values.connect ?? [process.env['SNAPDECK_CONNECT'] ?? '']).join(', '), async () => {
				const {connectionUris, repositoryDir, uiServices} = await import('./commands.js');
				return uiServices(await connectionUris(values.connect), () => repositoryDir(values.repo));
			});
		} catch (error) {
			return reportError(error, false);
		}
	}
	const {runCommand, USAGE} = await import('./commands.js');
	if (values.help || positionals.length === 0) {
		process.stdout.write(USAGE);
		return positionals.length === 0 && !values.help ? 2 : 0;
	}
	try {
		return await runCommand(positionals[0]!, positionals.slice(1), values);
	} catch (error) {
		const code = reportError(error, values.json);
		// For health, 1 and 2 mean warning and critical (Nagios): a check that could not run is UNKNOWN.
		return positionals[0] === 'health' ? 3 : code;
	}
}

// Once an SSH session drops, writing to its terminal fails (EIO, EPIPE); what was running must still
// stop cleanly (SIGHUP cancels it), not die of an unhandled stream error halfway.
for (const stream of [process.stdout, process.stderr]) stream.on('error', () => undefined);
process.exitCode = await main(process.argv.slice(2));
