import {expectArgs, offsiteSchedule, parseNow, policiesFor, policyRepository, print, printJson, repositoryDir} from '../support.js';
import {defineCommand} from '../command.js';

export default defineCommand({
	name: 'run',
	usage: `  snapdeck run [--now TIME]                 do what the policies' schedules say is due: snapshots
                                            (and their expiry), backups, prune, verify`,
	flags: [],
	async run({args, flags, commandLine, service}) {
		const command = 'run';
		expectArgs(command, args, []);
		const now = parseNow(flags.now);
		const {config} = (await import('../../config/config.js')).loadConfig();
		const svc = await service();
		const defaultRepo = await repositoryDir(flags.repo);
		const {runDue} = await import('../../service/scheduler.js');
		const {resolveTarget} = await import('../../service/targets.js');
		const runs = await runDue(svc, {
			now, command: commandLine,
			policyOf: policiesFor(config, svc.hypervisor.uri),
			repositoryFor: policy => policyRepository(config, policy) ?? defaultRepo,
			targetFor: name => resolveTarget(config, name),
			offsiteSchedule: policy => offsiteSchedule(config, policy),
			onLine: line => flags.json || print(line),
		});
		if (flags.json) printJson({now: now.toISOString(), runs});
		else if (runs.length === 0) print('nothing is due');
		return runs.some(run => run.outcome === 'failed') ? 1 : 0;
	},
});
