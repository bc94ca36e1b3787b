import {expectArgs, perform} from '../support.js';
import {defineCommand} from '../command.js';

export default defineCommand({
	name: 'revert',
	usage: `  snapdeck revert VM SNAPSHOT               go back to a snapshot (shows the plan, asks first)`,
	flags: [],
	uses: ['snapshots'],
	async run({args, flags, commandLine, service}) {
		const command = 'revert';
		const [vm, snapshot] = expectArgs(command, args, ['vm', 'snapshot']);
		return perform(await service(), {kind: 'revert', vm: vm!, snapshot: snapshot!}, flags, commandLine);
	},
});
