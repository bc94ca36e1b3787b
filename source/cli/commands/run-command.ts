import {errorMessage} from '../../core/errors.js';
import {
	canonicalUri,
	note,
	parseNow,
	print,
	printJson,
	repositoryDir,
	runSchedules,
	tellJobFailures,
} from '../support.js';
import {defineCommand} from '../command.js';

export default defineCommand({
	name: 'run',
	order: 180,
	summary: "do what the policies' schedules say is due",
	description:
		'Snapshots (and their expiry), backups, prune, verify; a task that fails is told to the config\'s "notify" list.',
	args: [],
	globals: ['now'],
	examples: [
		{
			line: 'snapdeck run',
			does: 'what a systemd timer or cron runs every few minutes (snapdeck schedule install sets one up)',
		},
	],
	flags: [],
	uses: ['inventory', 'jobs'],
	async run({flags, commandLine, service}) {
		const now = parseNow(flags.now);
		let connection = canonicalUri(flags.connect?.[0] ?? process.env['SNAPDECK_CONNECT'] ?? 'the default connection');
		let runs;
		try {
			const svc = await service();
			connection = svc.connection.uri;
			runs = await runSchedules(svc, {
				now,
				command: commandLine,
				defaultRepository: await repositoryDir(flags.repo),
				onLine: line => void (flags.json || print(line)),
				onNotifyFailure: note,
			});
		} catch (error) {
			// The run itself failed (its connection, its config): that too is a failed job someone must hear of.
			await tellJobFailures(
				connection,
				[{vm: null, task: 'run', message: errorMessage(error), actions: []}],
				now,
				note,
			);
			throw error;
		}
		if (flags.json) printJson({now: now.toISOString(), runs});
		else if (runs.length === 0) print('nothing is due');
		return runs.some(run => run.outcome === 'failed') ? 1 : 0;
	},
});
