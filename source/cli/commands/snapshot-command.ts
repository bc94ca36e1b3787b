import {perform} from '../support.js';
import {defineCommand} from '../command.js';

export default defineCommand({
	name: 'snapshot',
	order: 40,
	summary: 'take a snapshot (external disk snapshot by default)',
	args: [
		{key: 'vm', kind: 'vm', help: 'the VM'},
		{key: 'name', kind: 'new-snapshot', help: "the new snapshot's name"},
	],
	globals: ['yes', 'dry-run'],
	examples: [
		{
			line: "snapdeck snapshot web1 pre-upgrade --description 'before apt upgrade'",
			does: 'an external snapshot of every disk of web1',
		},
	],
	flags: ['description', 'internal', 'memory', 'quiesce'],
	ownFlags: {
		description: {type: 'string', value: 'TEXT', help: 'what the snapshot is for'},
		internal: {type: 'boolean', help: 'an internal snapshot (inside the qcow2 image) instead of an external one'},
		memory: {type: 'boolean', help: "save the running VM's memory too, so a revert resumes it where it was"},
	},
	uses: ['snapshots'],
	async run({args, flags, commandLine, service}) {
		const request = {
			name: args.name,
			description: flags.description,
			kind: flags.internal ? ('internal' as const) : ('external' as const),
			memory: flags.memory,
			quiesce: flags.quiesce,
			now: new Date(),
		};
		return perform(await service(), {kind: 'take', vm: args.vm, request}, flags, commandLine);
	},
});
