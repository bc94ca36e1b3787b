import {expectArgs, print, printJson, progressReporter} from '../support.js';
import {defineCommand} from '../command.js';

export default defineCommand({
	name: 'recover',
	usage: `  snapdeck recover VM                       finish an operation a crash or cancel interrupted`,
	flags: [],
	async run({args, flags, commandLine, service}) {
		const command = 'recover';
		const [vm] = expectArgs(command, args, ['vm']);
		const plan = await (await service()).recover(vm!, {command: commandLine, onEvent: progressReporter(flags)});
		if (flags.json) printJson({type: 'result', outcome: plan ? 'done' : 'nothing-pending', plan});
		else print(plan ? `recovered: ${plan.summary}` : `${vm} has no unfinished operation`);
		return 0;
	},
});
