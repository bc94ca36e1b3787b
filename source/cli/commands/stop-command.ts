import {expectArgs, print, printJson} from '../support.js';
import {defineCommand} from '../command.js';

export default defineCommand({
	name: 'stop',
	usage: `  snapdeck stop VM | --all                  stop a VM (or every running VM) at once: a power-off`,
	flags: ['all'],
	uses: ['inventory', 'snapshots'],
	async run({args, flags, commandLine, service}) {
		const command = 'stop';
		const svc = await service();
		const names = flags.all ? (await svc.list()).filter(vm => vm.state === 'running').map(vm => vm.name) : expectArgs(command, args, ['vm']);
		if (flags.all) expectArgs(command, args, []);
		const stopped: string[] = [];
		for (const vm of names) if (await svc.power(vm, false, commandLine)) stopped.push(vm);
		if (flags.json) printJson({stopped});
		else print(stopped.length > 0 ? `stopped: ${stopped.join(', ')}` : 'nothing was running');
		return 0;
	},
});
