import {SnapdeckError} from '../../core/errors.js';
import {parseNow, print, printJson, scheduledTasks} from '../support.js';
import {defineCommand} from '../command.js';

/** The README's section on schedules (a test checks that it is there). */
export const SCHEDULES_SECTION = '"Schedules and the journal"';

export default defineCommand({
	name: 'schedule',
	order: 190,
	summary: "each VM's scheduled tasks; install a timer for them",
	description:
		"install: a systemd timer (or the crontab line to add, --via cron) that runs 'snapdeck run' with this command's --connect, --repo and config.",
	args: [
		{key: 'what', kind: 'word', words: ['list', 'install'], optional: true, help: 'list (the default) or install'},
	],
	globals: ['dry-run', 'now'],
	examples: [
		{
			line: 'snapdeck schedule install --dry-run',
			does: 'the systemd units (or crontab line) it would install, nothing installed',
		},
	],
	flags: ['via'],
	ownFlags: {
		via: {
			type: 'string',
			value: 'systemd|cron',
			words: ['systemd', 'cron'],
			help: 'schedule install: a systemd timer (the default where systemd runs), or the crontab line to add',
		},
	},
	uses: ['inventory'],
	async run({args, flags, service}) {
		const {what} = args;
		if (flags.via !== undefined && what !== 'install')
			throw new SnapdeckError('usage', "--via goes with 'schedule install'");
		if (what === 'install') {
			const {installSchedule} = await import('../schedule-install.js');
			print(
				await installSchedule({
					print: flags['dry-run'],
					via: flags.via as 'systemd' | 'cron' | undefined,
					context: {connect: flags.connect, repo: flags.repo},
				}),
			);
			return 0;
		}
		const svc = await service();
		const overview = await scheduledTasks(svc, parseNow(flags.now));
		if (flags.json) printJson({connection: svc.connection.uri, tasks: overview});
		else
			print(
				overview.length === 0
					? `no VM has a scheduled task: a policy's schedules make them (${SCHEDULES_SECTION} in the README)`
					: overview
							.map(
								task =>
									`${task.vm}  ${task.task}  "${task.schedule}"  last: ${task.lastRun ?? 'never'}${task.lastOutcome ? ` (${task.lastOutcome})` : ''}  next: ${task.nextRun ?? '-'}`,
							)
							.join('\n'),
			);
		return 0;
	},
});
