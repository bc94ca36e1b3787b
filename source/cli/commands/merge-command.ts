import {perform} from '../support.js';
import {defineCommand} from '../command.js';

export default defineCommand({
	name: 'merge',
	order: 60,
	summary: 'delete a snapshot, merging its data (asks first)',
	args: [
		{key: 'vm', kind: 'vm', help: 'the VM'},
		{key: 'snapshot', kind: 'snapshot', help: 'the snapshot to delete; its data stays where the tree needs it'},
	],
	globals: ['yes', 'dry-run'],
	examples: [
		{
			line: 'snapdeck merge web1 pre-upgrade --dry-run',
			does: 'the plan of the merge (what is committed, streamed, deleted), nothing changed',
		},
	],
	flags: [],
	uses: ['snapshots'],
	async run({args, flags, commandLine, service}) {
		return perform(await service(), {kind: 'merge', vm: args.vm, snapshot: args.snapshot}, flags, commandLine);
	},
});
