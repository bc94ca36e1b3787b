import {maskCredentials} from '../../core/notifications.js';
import {describeVm, identityTag} from '../../core/identity.js';
import {renderBackups, renderRemoteBackups} from '../render.js';
import {cancellable, pointJson, print, printJson, remotePointJson, targetOf} from '../support.js';
import {defineCommand} from '../command.js';

export default defineCommand({
	name: 'backups',
	order: 110,
	summary: "a VM's backup points, here or on an off-site target",
	args: [{key: 'vm', kind: 'vm', help: 'the VM'}],
	examples: [
		{line: 'snapdeck backups web1', does: "web1's points in the repository: kind, age, size, verification"},
		{line: 'snapdeck backups web1 --from usb', does: "web1's points on the off-site target usb"},
	],
	flags: ['from', 'origin'],
	uses: ['backups', 'offsite'],
	backups: true,
	async run({args, flags, service}) {
		const {vm} = args;
		if (flags.from !== undefined) {
			const {target} = await targetOf(flags.from);
			const svc = await service();
			// Ctrl-C and SIGTERM end restic and what it started (ssh), not only snapdeck.
			const points = await cancellable(signal => svc.remoteBackups(target, vm, signal));
			if (flags.json)
				printJson({vm, target: target.name ?? maskCredentials(target.repository), points: points.map(remotePointJson)});
			else print(renderRemoteBackups(vm, target.name ?? maskCredentials(target.repository), points));
			return 0;
		}
		const svc = await service();
		const points = await svc.backups(vm, {origin: flags.origin});
		const binding = svc.backupsFolder(vm);
		const others = (binding?.others ?? []).map(other => ({
			folder: other.folder,
			origin: other.identity ? identityTag(other.identity) : other.folder,
			identity: other.identity,
			points: other.points,
		}));
		if (flags.json)
			printJson({
				vm,
				repository: svc.repository!.root,
				folder: svc.repository!.vmDir(vm),
				identity: binding?.foreign?.identity ?? binding?.identity ?? null,
				points: points.map(pointJson),
				others,
			});
		else {
			print(renderBackups(vm, svc.repository!.vmDir(vm), points));
			if (binding?.foreign)
				print(
					`(these are the backups of ${describeVm(vm, binding.foreign.identity)}, not of this connection's ${vm}: they are restored only as a new VM)`,
				);
			for (const other of others)
				print(
					`${svc.repository!.root} also holds the backups of ${describeVm(vm, other.identity)}, ${other.points} point${other.points === 1 ? '' : 's'}: --origin ${other.origin} lists them`,
				);
		}
		return 0;
	},
});
