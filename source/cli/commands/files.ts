import {SnapdeckError} from '../../core/errors.js';
import {cancellable, expectArgs, print, printJson} from '../support.js';
import {defineCommand} from '../command.js';

export default defineCommand({
	name: 'files',
	usage: `  snapdeck files VM --point ID [PATH]       the filesystems of a point, or a folder in one (PATH:
                                            /etc, or DEVICE:/etc where there are several); read-only
  snapdeck files VM --point ID --extract PATH --to DIR
                                            copy a file or folder out of a point into DIR`,
	flags: ['point', 'extract', 'to', 'origin'],
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
			else print(`extracted ${done.device}:${done.path} of point ${flags.point} to ${done.written}`);
			return 0;
		}
		const listing = await cancellable(signal => svc.listFiles(vm!, {point: flags.point!, origin: flags.origin, ...(inGuest === undefined ? {} : {path: inGuest}), command: commandLine, signal}));
		if (flags.json) printJson({vm, point: flags.point, ...listing});
		else if (listing.kind === 'filesystems') print(listing.filesystems.length === 0 ? 'no filesystem libguestfs can read' : listing.filesystems.map(fs => `${fs.device}  ${fs.type}`).join('\n'));
		else print(listing.entries.map(entry => `${entry.mode}  ${String(entry.size).padStart(12)}  ${entry.name}${entry.type === 'directory' ? '/' : ''}${entry.target ? ` -> ${entry.target}` : ''}`).join('\n'));
		return 0;
	},
});
