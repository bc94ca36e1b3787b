import {maskCredentials} from '../../core/notifications.js';
import {SnapdeckError} from '../../core/errors.js';
import {formatBytes} from '../../core/units.js';
import {cancellable, print, printJson, progressReporter, targetOf} from '../support.js';
import {defineCommand} from '../command.js';

export default defineCommand({
	name: 'copy',
	order: 150,
	summary: 'copy a point off-site (restic)',
	description:
		"The newest point unless --point names one. TARGET is a name from \"offsite\" in the config, or a restic repository (a path, sftp:, rest:, s3:...; password from RESTIC_PASSWORD_FILE), made there if it is new; default: the VM's policy's target, else the config's only one.",
	args: [{key: 'vm', kind: 'vm', help: 'the VM'}],
	flagHelp: {force: 'copy a point that failed its last verification'},
	examples: [
		{
			line: 'RESTIC_PASSWORD_FILE=~/.restic-pw snapdeck copy web1 --target /mnt/usb/restic',
			does: "web1's newest point into the restic repository on the USB disk",
		},
	],
	flags: ['point', 'target', 'force', 'origin'],
	ownFlags: {
		target: {
			type: 'string',
			value: 'TARGET',
			help: "the off-site target: a name from \"offsite\" in the config, or a restic repository (default: the VM's policy's, else the config's only one)",
		},
	},
	uses: ['offsite'],
	backups: true,
	async run({args, flags, commandLine, service}) {
		const {vm} = args;
		const svc = await service();
		// The target the UI's O copies to: the policy's, else the config's only one.
		const found = flags.target === undefined ? await svc.offsiteTargetOf(vm) : await targetOf(flags.target);
		if ('reason' in found)
			throw new SnapdeckError(
				'usage',
				`copy needs --target TARGET: ${found.reason}`,
				`for example: RESTIC_PASSWORD_FILE=~/.restic-pw snapdeck copy ${vm} --target /mnt/usb/restic`,
			);
		const {target} = found;
		const result = await cancellable(signal =>
			svc.copy(vm, target, {
				point: flags.point,
				origin: flags.origin,
				force: flags.force,
				command: commandLine,
				signal,
				onEvent: progressReporter(flags),
			}),
		);
		if (flags.json)
			printJson({
				type: 'result',
				outcome: result.already ? 'already-there' : 'done',
				target: target.name ?? maskCredentials(target.repository),
				...result,
			});
		else {
			if (result.created) print(`made a new restic repository at ${maskCredentials(target.repository)}`);
			print(
				result.already
					? `point ${result.point} of ${vm} is already on ${target.name ?? maskCredentials(target.repository)} (snapshot ${result.snapshot.slice(0, 8)}): nothing to copy`
					: `copied point ${result.point} of ${vm} to ${target.name ?? maskCredentials(target.repository)}: snapshot ${result.snapshot.slice(0, 8)}, ${formatBytes(result.uploaded)} uploaded of ${formatBytes(result.bytes)}`,
			);
		}
		return 0;
	},
});
