import {maskCredentials} from '../../core/notifications.js';
import {SnapdeckError} from '../../core/errors.js';
import {formatBytes} from '../../core/units.js';
import {cancellable, expectArgs, print, printJson, progressReporter, targetOf} from '../support.js';
import {defineCommand} from '../command.js';

export default defineCommand({
	name: 'copy',
	usage: `  snapdeck copy VM [--point ID] [--target TARGET]
                                            copy a point (default: the newest) off-site: TARGET is a
                                            name from "offsite" in the config, or a restic repository
                                            (a path, sftp:, rest:, s3:...; password from
                                            RESTIC_PASSWORD_FILE), made there if it is new; default:
                                            the VM's policy's target, else the config's only one`,
	flags: ['point', 'target', 'force', 'origin'],
	uses: ['offsite'],
	backups: true,
	async run({args, flags, commandLine, service}) {
		const command = 'copy';
		const [vm] = expectArgs(command, args, ['vm']);
		const svc = await service();
		// The target the UI's O copies to: the policy's, else the config's only one.
		const found = flags.target === undefined ? await svc.offsiteTargetOf(vm!) : await targetOf(flags.target);
		if ('reason' in found) throw new SnapdeckError('usage', `copy needs --target TARGET: ${found.reason}`, `for example: RESTIC_PASSWORD_FILE=~/.restic-pw snapdeck copy ${vm} --target /mnt/usb/restic`);
		const {target} = found;
		const result = await cancellable(signal => svc.copy(vm!, target, {point: flags.point, origin: flags.origin, force: flags.force, command: commandLine, signal, onEvent: progressReporter(flags)}));
		if (flags.json) printJson({type: 'result', outcome: result.already ? 'already-there' : 'done', target: target.name ?? maskCredentials(target.repository), ...result});
		else {
			if (result.created) print(`made a new restic repository at ${maskCredentials(target.repository)}`);
			print(result.already
				? `point ${result.point} of ${vm} is already on ${target.name ?? maskCredentials(target.repository)} (snapshot ${result.snapshot.slice(0, 8)}): nothing to copy`
				: `copied point ${result.point} of ${vm} to ${target.name ?? maskCredentials(target.repository)}: snapshot ${result.snapshot.slice(0, 8)}, ${formatBytes(result.uploaded)} uploaded of ${formatBytes(result.bytes)}`);
		}
		return 0;
	},
});
