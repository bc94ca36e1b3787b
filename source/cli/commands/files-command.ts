import {SnapdeckError} from '../../core/errors.js';
import type {GuestEntry} from '../../core/guest-files.js';
import {safeText} from '../../core/terminal-text.js';
import {formatBytes} from '../../core/units.js';
import type {Extracted} from '../../service/ports.js';
import {cancellable, expectArgs, print, printJson} from '../support.js';
import {defineCommand} from '../command.js';

export default defineCommand({
	name: 'files',
	usage: `  snapdeck files VM --point ID [PATH]       the filesystems of a point, or a folder in one (PATH:
                                            /etc, or DEVICE:/etc where there are several); read-only.
                                            Names are listed escaped (\\\\, \\n, \\xHH for a byte that is
                                            not UTF-8), and PATH and --extract take them so
  snapdeck files VM --point ID --extract PATH --to DIR
                                            copy a file or folder out of a point into DIR/NAME, as
                                            data only: files, folders and links; no devices, FIFOs,
                                            sockets, owners or setuid/setgid/sticky bits`,
	flags: ['point', 'extract', 'to', 'origin'],
	uses: ['restores'],
	backups: true,
	async run({args, flags, commandLine, service}) {
		const command = 'files';
		const [vm, inGuest] = args.length === 2 ? args : [...expectArgs(command, args, ['vm']), undefined];
		if (flags.point === undefined) throw new SnapdeckError('usage', 'files needs --point ID', `'snapdeck backups ${vm}' lists them`);
		const svc = await service();
		if (flags.extract !== undefined) {
			if (inGuest !== undefined) throw new SnapdeckError('usage', 'give the path to extract with --extract PATH alone');
			if (flags.to === undefined) throw new SnapdeckError('usage', '--extract needs --to DIR, the folder to copy into');
			const done = await cancellable(signal => svc.extractFiles(vm!, {point: flags.point!, origin: flags.origin, path: flags.extract!, to: flags.to!, command: commandLine, signal}));
			if (flags.json) printJson({vm, point: flags.point, ...done});
			else print(extractedText(done, flags.point));
			return 0;
		}
		const listing = await cancellable(signal => svc.listFiles(vm!, {point: flags.point!, origin: flags.origin, ...(inGuest === undefined ? {} : {path: inGuest}), command: commandLine, signal}));
		if (flags.json) printJson({vm, point: flags.point, ...listing});
		else if (listing.kind === 'filesystems') print(listing.filesystems.length === 0 ? 'no filesystem libguestfs can read' : listing.filesystems.map(fs => `${fs.device}  ${fs.type}`).join('\n'));
		else print(listing.entries.map(entryLine).join('\n'));
		return 0;
	},
});

/** One entry as `ls -l` would show it, its name (and a link's target) escaped: one printable line each, whatever bytes the guest named it with, and the name as PATH and --extract take it. */
export const entryLine = (entry: GuestEntry) =>
	`${entry.mode}  ${`${entry.uid}:${entry.gid}`.padEnd(11)} ${(entry.device ?? String(entry.size)).padStart(12)}  ${entry.escapedName}${entry.type === 'directory' ? '/' : ''}${entry.escapedTarget === undefined ? '' : ` -> ${entry.escapedTarget}`}`;

/** What an extraction copied, and each entry it left out or changed, one line each. */
function extractedText(done: Extracted, point: string): string {
	return [
		`extracted ${safeText(`${done.device}:${done.path}`)} of point ${point} to ${safeText(done.written)}: ${done.files} files (${formatBytes(done.bytes)}), ${done.directories} folders, ${done.links} links`,
		...done.skipped.map(skip => `  left out ${safeText(skip.path)} (${skip.type}): ${skip.reason}`),
		...done.dropped.map(line => `  ${safeText(line)}`),
	].join('\n');
}
