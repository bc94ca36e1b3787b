import {expectArgs, perform} from '../support.js';
import {defineCommand} from '../command.js';

export default defineCommand({
	name: 'merge',
	usage: `  snapdeck merge VM SNAPSHOT                delete a snapshot, merging its data (shows the plan, asks first)`,
	flags: [],
	uses: ['snapshots'],
	async run({args, flags, commandLine, service}) {
		const command = 'merge';
		const [vm, snapshot] = expectArgs(command, args, ['vm', 'snapshot']);
		return perform(await service(), {kind: 'merge', vm: vm!, snapshot: snapshot!}, flags, commandLine);
	},
});
