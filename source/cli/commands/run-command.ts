import {errorMessage} from '../../core/errors.js';
import {canonicalUri, expectArgs, note, parseNow, print, printJson, repositoryDir, runSchedules, tellJobFailures} from '../support.js';
import {defineCommand} from '../command.js';

export default defineCommand({
	name: 'run',
	usage: `  snapdeck run [--now TIME]                 do what the policies' schedules say is due: snapshots
                                            (and their expiry), backups, prune, verify; a task that
                                            fails is told to the config's "notify" list`,
	flags: [],
	uses: ['inventory', 'jobs'],
	async run({args, flags, commandLine, service}) {
		const command = 'run';
		expectArgs(command, args, []);
		const now = parseNow(flags.now);
		let connection = canonicalUri(flags.connect?.[0] ?? process.env['SNAPDECK_CONNECT'] ?? 'the default connection');
		let runs;
		try {
			const svc = await service();
			connection = svc.connection.uri;
			runs = await runSchedules(svc, {now, command: commandLine, defaultRepository: await repositoryDir(flags.repo), onLine: line => void (flags.json || print(line)), onNotifyFailure: note});
		} catch (error) {
			// The run itself failed (its connection, its config): that too is a failed job someone must hear of.
			await tellJobFailures(connection, [{vm: null, task: 'run', message: errorMessage(error), actions: []}], now, note);
			throw error;
		}
		if (flags.json) printJson({now: now.toISOString(), runs});
		else if (runs.length === 0) print('nothing is due');
		return runs.some(run => run.outcome === 'failed') ? 1 : 0;
	},
});
