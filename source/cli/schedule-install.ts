import {existsSync} from 'node:fs';
import {mkdir, writeFile} from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import {SnapdeckError} from '../core/errors.js';
import {canonicalUri} from './support.js';

/** What the scheduled `snapdeck run` must see as this command did: its connection, repository, config and journal. */
export interface RunContext {
	readonly connect: readonly string[] | undefined;
	readonly repo: string | undefined;
}

/**
 * `snapdeck run` as this very binary, as an argument list: `env` with the variables that point it
 * at its config and journal (absolute, since cron and systemd start it elsewhere), then the node
 * binary, bin/snapdeck.js, `run` and the --connect and --repo it was installed with (given, or
 * from SNAPDECK_CONNECT and SNAPDECK_REPO).
 */
export function runArgv(context: RunContext): string[] {
	const connect =
		context.connect && context.connect.length > 0
			? context.connect
			: process.env['SNAPDECK_CONNECT'] === undefined
				? []
				: [process.env['SNAPDECK_CONNECT']];
	if (connect.length > 1)
		throw new SnapdeckError(
			'usage',
			`'snapdeck run' works on one connection, and ${connect.length} are given`,
			'install the schedule with one --connect',
		);
	const repo = context.repo ?? process.env['SNAPDECK_REPO'];
	const env = (['SNAPDECK_CONFIG_DIR', 'SNAPDECK_JOURNAL'] as const).flatMap(name =>
		process.env[name] === undefined ? [] : [`${name}=${path.resolve(process.env[name])}`],
	);
	const argv = [
		...(env.length > 0 ? ['/usr/bin/env', ...env] : []),
		process.execPath,
		path.resolve(process.argv[1] ?? 'snapdeck'),
		'run',
		// A name from the config stays a name (the config resolves it at each run); a local: lab becomes absolute.
		...connect.flatMap(uri => ['--connect', canonicalUri(uri)]),
		...(repo === undefined ? [] : ['--repo', path.resolve(repo)]),
	];
	const bad = argv.find(arg => /[\n\r\0]/.test(arg));
	if (bad !== undefined)
		throw new SnapdeckError(
			'usage',
			`cannot schedule a command with a line break in '${bad}'`,
			'use a connection, repository or config folder whose name has none',
		);
	return argv;
}

/**
 * One crontab command: each word quoted for /bin/sh ('...', a ' as '"'"', no backslash), then
 * every % escaped, which cron would otherwise turn into a line break.
 */
export const crontabCommand = (argv: readonly string[]) =>
	argv
		.map(arg => (/^[\w./:=@+,-]+$/.test(arg) ? arg : `'${arg.replaceAll("'", `'"'"'`)}'`))
		.join(' ')
		.replaceAll('%', '\\%');

/**
 * One systemd command line: each word in double quotes with \ and " escaped, % doubled
 * (specifiers) and $ doubled (variables), as systemd.service(5) "Command lines" says.
 */
export const systemdCommand = (argv: readonly string[]) =>
	argv
		.map(
			arg => `"${arg.replaceAll('\\', '\\\\').replaceAll('"', '\\"').replaceAll('%', '%%').replaceAll('$', '$$$$')}"`,
		)
		.join(' ');

/**
 * A systemd service and timer that run `snapdeck run` every 15 minutes (the policies' cron
 * expressions decide what is due), or the crontab line to add where there is no systemd (or with
 * `via: 'cron'`). `print` shows the files without writing them.
 */
export async function installSchedule(options: {
	print: boolean;
	via: 'systemd' | 'cron' | undefined;
	context: RunContext;
}): Promise<string> {
	const argv = runArgv(options.context);
	const systemd = existsSync('/run/systemd/system');
	if (options.via === 'cron' || (options.via === undefined && !systemd)) {
		const log = crontabCommand([path.join(os.homedir(), 'snapdeck-run.log')]);
		return `${systemd ? '' : 'This host does not run systemd. '}Add this line to the crontab (crontab -e):\n*/15 * * * * ${crontabCommand(argv)} >> ${log} 2>&1`;
	}
	if (!systemd && !options.print)
		throw new SnapdeckError(
			'usage',
			'this host does not run systemd',
			"'--via cron' prints the crontab line; '--dry-run' prints the units",
		);
	const root = process.getuid?.() === 0;
	const dir = root ? '/etc/systemd/system' : path.join(os.homedir(), '.config', 'systemd', 'user');
	const service = `[Unit]\nDescription=snapdeck: scheduled snapshots, backups, prune and verify\n\n[Service]\nType=oneshot\nExecStart=${systemdCommand(argv)}\n`;
	const timer = `[Unit]\nDescription=Run snapdeck's schedules every 15 minutes\n\n[Timer]\nOnCalendar=*:0/15\nPersistent=true\n\n[Install]\nWantedBy=timers.target\n`;
	if (options.print)
		return `# ${path.join(dir, 'snapdeck-run.service')}\n${service}\n# ${path.join(dir, 'snapdeck-run.timer')}\n${timer}`;
	await mkdir(dir, {recursive: true});
	await writeFile(path.join(dir, 'snapdeck-run.service'), service);
	await writeFile(path.join(dir, 'snapdeck-run.timer'), timer);
	const systemctl = root ? ['systemctl'] : ['systemctl', '--user'];
	// execa on first use, as everywhere (adapters/exec.ts: loadExeca).
	const {execa} = await import('execa');
	await execa(systemctl[0]!, [...systemctl.slice(1), 'daemon-reload']);
	await execa(systemctl[0]!, [...systemctl.slice(1), 'enable', '--now', 'snapdeck-run.timer']);
	return `wrote ${path.join(dir, 'snapdeck-run.service')} and snapdeck-run.timer, and enabled the timer ('${systemctl.join(' ')} list-timers' shows it)`;
}
