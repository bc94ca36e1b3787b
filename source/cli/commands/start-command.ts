import {print, printJson} from '../support.js';
import {defineCommand} from '../command.js';

export default defineCommand({
	name: 'start',
	order: 80,
	summary: 'start a VM from its vm.json ("qemu" settings)',
	args: [{key: 'vm', kind: 'vm', help: 'the VM'}],
	examples: [{line: 'snapdeck start web1 --connect local:demo', does: 'starts web1 of a local lab'}],
	flags: [],
	uses: ['snapshots'],
	async run({args, flags, commandLine, service}) {
		const {vm} = args;
		const changed = await (await service()).power(vm, true, commandLine);
		if (flags.json) printJson({vm, state: 'running', changed});
		else print(changed ? `${vm} started` : `${vm} was already running`);
		return 0;
	},
});
