import {existsSync} from 'node:fs';
import {mkdir, writeFile} from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';

/** `snapdeck run` as this very binary, with the environment that points it at its config. */
function runCommand(): string {
	const bin = path.resolve(process.argv[1] ?? 'snapdeck');
	const quote = (text: string) => (/^[\w./:=@+-]+$/.test(text) ? text : `'${text.replaceAll("'", "'\\''")}'`);
	const env = ['SNAPDECK_CONFIG_DIR', 'SNAPDECK_CONNECT', 'SNAPDECK_REPO', 'SNAPDECK_JOURNAL'].filter(name => process.env[name] !== undefined).map(name => `${name}=${quote(process.env[name]!)}`);
	return [...env, quote(process.execPath), quote(bin), 'run'].join(' ');
}

/**
 * A systemd service and timer that run `snapdeck run` every 15 minutes (the policies' cron
 * expressions decide what is due), or, without systemd, the crontab line to add. `print` shows
 * the files without writing them.
 */
export async function installSchedule(options: {print: boolean}): Promise<string> {
	const command = runCommand();
	if (!existsSync('/run/systemd/system')) {
		return `This host does not run systemd. Add this line to the crontab (crontab -e):\n*/15 * * * * ${command} >> ${path.join(os.homedir(), 'snapdeck-run.log')} 2>&1`;
	}
	const root = process.getuid?.() === 0;
	const dir = root ? '/etc/systemd/system' : path.join(os.homedir(), '.config', 'systemd', 'user');
	const service = `[Unit]\nDescription=snapdeck: scheduled snapshots, backups, prune and verify\n\n[Service]\nType=oneshot\nExecStart=/bin/sh -c '${command.replaceAll("'", "'\\''")}'\n`;
	const timer = `[Unit]\nDescription=Run snapdeck's schedules every 15 minutes\n\n[Timer]\nOnCalendar=*:0/15\nPersistent=true\n\n[Install]\nWantedBy=timers.target\n`;
	if (options.print) return `# ${path.join(dir, 'snapdeck-run.service')}\n${service}\n# ${path.join(dir, 'snapdeck-run.timer')}\n${timer}`;
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
