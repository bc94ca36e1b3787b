import {describePendingJob} from '../../core/plan.js';
import {print, printJson, progressReporter} from '../support.js';
import {defineCommand} from '../command.js';

export default defineCommand({
	name: 'recover',
	order: 70,
	summary: 'finish an operation a crash or cancel interrupted',
	args: [{key: 'vm', kind: 'vm', help: 'the VM'}],
	examples: [
		{
			line: 'snapdeck recover web1',
			does: 'finishes (or undoes) what an interrupted operation left on web1, and removes its leftovers',
		},
	],
	flags: [],
	uses: ['jobs'],
	async run({args, flags, commandLine, service}) {
		const {vm} = args;
		const {plan, jobs, problems, did} = await (
			await service()
		).recover(vm, {command: commandLine, onEvent: progressReporter(flags)});
		const done = plan !== null || jobs.length > 0 || did.length > 0;
		if (flags.json) {
			printJson({
				type: 'result',
				outcome: done ? 'done' : 'nothing-pending',
				plan,
				jobs: jobs.map(({job, removed, untouched, pending}) => ({left: job, removed, untouched, pending})),
				did,
				problems,
			});
		} else {
			for (const line of did) print(`recovered: ${line}`);
			if (plan) print(`recovered: ${plan.summary}`);
			for (const {job, removed, untouched, pending} of jobs) {
				print(
					`recovered: ${describePendingJob(vm, job)}; ${removed.length > 0 ? `removed ${removed.join(', ')}` : 'it left nothing to remove'}${untouched.length > 0 ? `; left alone (not what it made): ${untouched.join('; ')}` : ''}${pending.length > 0 ? `; still to do: ${pending.join('; ')}` : ''}`,
				);
			}
			for (const problem of problems) print(`! ${problem}`);
			if (!done && problems.length === 0) print(`${vm} has no unfinished operation`);
		}
		return problems.length > 0 ? 1 : 0;
	},
});
