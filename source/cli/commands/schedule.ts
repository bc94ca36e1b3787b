import {SnapdeckError} from '../../core/errors.js';
import {offsiteSchedule, parseNow, policiesFor, print, printJson} from '../support.js';
import {defineCommand} from '../command.js';

export default defineCommand({
	name: 'schedule',
	usage: `  snapdeck schedule [list] | install [--dry-run]
                                            each VM's scheduled tasks; install a systemd timer
                                            (or print the crontab line) that runs 'snapdeck run'`,
	flags: [],
	async run({args, flags, service}) {
		const [what] = args;
		const {config} = (await import('../../config/config.js')).loadConfig();
		if (what === 'install' && args.length === 1) {
			const {installSchedule} = await import('../schedule-install.js');
			print(await installSchedule({print: flags['dry-run']}));
			return 0;
		}
		if (what !== undefined && what !== 'list') throw new SnapdeckError('usage', "'snapdeck schedule' takes list or install [--dry-run]");
		const svc = await service();
		const uri = svc.hypervisor.uri;
		const names = svc.hypervisor.names ? await svc.hypervisor.names() : (await svc.list()).map(vm => vm.name);
		const {scheduleOverview} = await import('../../service/schedule-state.js');
		const overview = await scheduleOverview(uri, names, policiesFor(config, uri), parseNow(flags.now), policy => offsiteSchedule(config, policy));
		if (flags.json) printJson({connection: uri, tasks: overview});
		else print(overview.length === 0 ? 'no VM has a scheduled task (see "policies" in the README)' : overview.map(task => `${task.vm}  ${task.task}  "${task.schedule}"  last: ${task.lastRun ?? 'never'}${task.lastOutcome ? ` (${task.lastOutcome})` : ''}  next: ${task.nextRun ?? '-'}`).join('\n'));
		return 0;
	},
});
