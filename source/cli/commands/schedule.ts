import {SnapdeckError} from '../../core/errors.js';
import {parseNow, print, printJson, scheduledTasks} from '../support.js';
import {defineCommand} from '../command.js';

export default defineCommand({
	name: 'schedule',
	usage: `  snapdeck schedule [list] | install [--dry-run]
                                            each VM's scheduled tasks; install a systemd timer
                                            (or print the crontab line) that runs 'snapdeck run'`,
	flags: [],
	async run({args, flags, service}) {
		const [what] = args;
		if (what === 'install' && args.length === 1) {
			const {installSchedule} = await import('../schedule-install.js');
			print(await installSchedule({print: flags['dry-run']}));
			return 0;
		}
		if (what !== undefined && what !== 'list') throw new SnapdeckError('usage', "'snapdeck schedule' takes list or install [--dry-run]");
		const svc = await service();
		const overview = await scheduledTasks(svc, parseNow(flags.now));
		if (flags.json) printJson({connection: svc.hypervisor.uri, tasks: overview});
		else print(overview.length === 0 ? 'no VM has a scheduled task (see "policies" in the README)' : overview.map(task => `${task.vm}  ${task.task}  "${task.schedule}"  last: ${task.lastRun ?? 'never'}${task.lastOutcome ? ` (${task.lastOutcome})` : ''}  next: ${task.nextRun ?? '-'}`).join('\n'));
		return 0;
	},
});
