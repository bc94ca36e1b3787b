import {expectArgs, perform} from '../support.js';
import {defineCommand} from '../command.js';

export default defineCommand({
	name: 'snapshot',
	usage: `  snapdeck snapshot VM NAME [--description TEXT] [--internal] [--memory] [--quiesce]
                                            take a snapshot (external disk snapshot by default)`,
	flags: ['description', 'internal', 'memory', 'quiesce'],
	uses: ['snapshots'],
	async run({args, flags, commandLine, service}) {
		const command = 'snapshot';
		const [vm, name] = expectArgs(command, args, ['vm', 'name']);
		const request = {name: name!, description: flags.description, kind: flags.internal ? 'internal' as const : 'external' as const, memory: flags.memory, quiesce: flags.quiesce, now: new Date()};
		return perform(await service(), {kind: 'take', vm: vm!, request}, flags, commandLine);
	},
});
