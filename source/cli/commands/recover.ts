import {describePendingJob} from '../../core/plan.js';
import {expectArgs, print, printJson, progressReporter} from '../support.js';
import {defineCommand} from '../command.js';

export default defineCommand({
	name: 'recover',
	usage: `  snapdeck recover VM                       finish an operation a crash or cancel interrupted`,
	flags: [],
	async run({args, flags, commandLine, service}) {
		const command = 'recover';
		const [vm] = expectArgs(command, args, ['vm']);
		const {plan, job} = await (await service()).recover(vm!, {command: commandLine, onEvent: progressReporter(flags)});
		if (flags.json) printJson({type: 'result', outcome: plan || job ? 'done' : 'nothing-pending', plan, job});
		else {
			if (plan) print(`recovered: ${plan.summary}`);
			if (job) print(`recovered: ${describePendingJob(vm!, job.left)}; ${job.removed.length > 0 ? `removed ${job.removed.join(', ')}` : 'it left nothing to remove'}`);
			if (!plan && !job) print(`${vm} has no unfinished operation`);
		}
		return 0;
	},
});
