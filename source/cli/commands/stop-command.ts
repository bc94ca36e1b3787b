import {print, printJson} from '../support.js';
import {SnapdeckError} from '../../core/errors.js';
import {defineCommand} from '../command.js';
import {synopsisOf} from '../synopsis.js';

const stop = defineCommand({
	name: 'stop',
	order: 90,
	summary: 'power a VM off at once (or every running one: --all)',
	args: [{key: 'vm', kind: 'vm', optional: true, help: 'the VM; none with --all'}],
	examples: [
		{line: 'snapdeck stop web1', does: 'powers web1 off'},
		{line: 'snapdeck stop --all', does: 'powers off every running VM of the connection'},
	],
	flags: ['all'],
	ownFlags: {
		all: {type: 'boolean', help: 'every running VM'},
	},
	uses: ['inventory', 'snapshots'],
	async run({args, flags, commandLine, service}) {
		if (flags.all === (args.vm !== undefined))
			throw new SnapdeckError('usage', "'snapdeck stop' takes a VM, or --all", `usage: ${synopsisOf(stop)}`);
		const svc = await service();
		const names =
			args.vm === undefined ? (await svc.list()).filter(vm => vm.state === 'running').map(vm => vm.name) : [args.vm];
		const stopped: string[] = [];
		for (const vm of names) if (await svc.power(vm, false, commandLine)) stopped.push(vm);
		if (flags.json) printJson({stopped});
		// One VM is said as start says it; --all lists what it stopped.
		else if (args.vm !== undefined) print(stopped.length > 0 ? `${args.vm} stopped` : `${args.vm} was not running`);
		else print(stopped.length > 0 ? `stopped: ${stopped.join(', ')}` : 'nothing was running');
		return 0;
	},
});

export default stop;
