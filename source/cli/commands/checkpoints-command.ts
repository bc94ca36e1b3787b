import {print, printJson} from '../support.js';
import {defineCommand} from '../command.js';

export default defineCommand({
	name: 'checkpoints',
	order: 210,
	summary: "snapdeck's bitmaps (libvirt checkpoints) on a VM",
	description: 'Which a backup still needs; --prune removes the others.',
	args: [{key: 'vm', kind: 'vm', help: 'the VM'}],
	examples: [
		{line: 'snapdeck checkpoints web1 --prune', does: 'removes the bitmaps of web1 that no backup needs any more'},
	],
	flags: ['prune'],
	ownFlags: {
		prune: {type: 'boolean', help: 'remove the bitmaps no backup needs'},
	},
	uses: ['backups'],
	backups: true,
	async run({args, flags, commandLine, service}) {
		const {vm} = args;
		const result = await (await service()).checkpoints(vm, {prune: flags.prune, command: commandLine});
		if (flags.json) printJson({vm, ...result});
		else {
			if (result.checkpoints.length === 0) print(`${vm} carries no bitmap (checkpoint) of snapdeck's`);
			for (const checkpoint of result.checkpoints) {
				print(
					`${checkpoint.stale === null ? 'in use' : result.removed.includes(checkpoint.name) ? 'removed' : 'stale '}  ${checkpoint.name}  ${checkpoint.stale ?? `the next incremental into ${checkpoint.repository} follows it`}`,
				);
			}
			if (result.left.length > 0)
				print(
					`not removed: ${result.left.join(', ')}; libvirt deletes the checkpoints of a running domain only: start ${vm} and run this again`,
				);
			else if (!flags.prune && result.checkpoints.some(checkpoint => checkpoint.stale !== null))
				print(`'snapdeck checkpoints ${vm} --prune' removes the stale ones`);
		}
		return result.left.length > 0 ? 1 : 0;
	},
});
