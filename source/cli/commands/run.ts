import {expectArgs, parseNow, print, printJson, repositoryDir, runSchedules} from '../support.js';
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
		const svc = await service();
		const runs = await runSchedules(svc, {now, command: commandLine, defaultRepository: await repositoryDir(flags.repo), onLine: line => void (flags.json || print(line))});
		if (flags.json) printJson({now: now.toISOString(), runs});
		else if (runs.length === 0) print('nothing is due');
		return runs.some(run => run.outcome === 'failed') ? 1 : 0;
	},
});
