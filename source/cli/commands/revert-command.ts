import {perform} from '../support.js';
import {defineCommand} from '../command.js';

export default defineCommand({
	name: 'revert',
	order: 50,
	summary: 'go back to a snapshot (shows the plan, asks first)',
	args: [
		{key: 'vm', kind: 'vm', help: 'the VM'},
		{key: 'snapshot', kind: 'snapshot', help: 'the snapshot to go back to'},
	],
	globals: ['yes', 'dry-run'],
	examples: [
		{
			line: 'snapdeck revert web1 pre-upgrade',
			does: 'shows the plan, asks, then puts web1 back where it was at pre-upgrade',
		},
	],
	flags: [],
	uses: ['snapshots'],
	async run({args, flags, commandLine, service}) {
		return perform(await service(), {kind: 'revert', vm: args.vm, snapshot: args.snapshot}, flags, commandLine);
	},
});
