import {expectArgs, print, printJson} from '../support.js';
import {defineCommand} from '../command.js';

export default defineCommand({
	name: 'start',
	usage: `  snapdeck start VM                         start a VM from its vm.json ("qemu" settings)`,
	flags: [],
	uses: ['snapshots'],
	async run({args, flags, commandLine, service}) {
		const command = 'start';
		const [vm] = expectArgs(command, args, ['vm']);
		const changed = await (await service()).power(vm!, true, commandLine);
		if (flags.json) printJson({vm, state: 'running', changed});
		else print(changed ? `${vm} started` : `${vm} was already running`);
		return 0;
	},
});
