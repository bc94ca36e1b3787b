import {SnapdeckError} from '../../core/errors.js';
import {formatBytes} from '../../core/units.js';
import {cancellable, pointJson, print, printJson, progressReporter, note} from '../support.js';
import {defineCommand} from '../command.js';

export default defineCommand({
	name: 'backup',
	order: 100,
	summary: "back up a VM's disks: incremental where it can, else full",
	description:
		"Incremental where the VM's dirty bitmaps allow, else full, saying why; --limit caps each disk's read rate in MiB/s; points are zstd-compressed unless --no-compress; --with-snapshots also archives the stopped VM whole (every image of its snapshot tree), so 'restore --as NAME' brings it back with its snapshots.",
	args: [{key: 'vm', kind: 'vm', help: 'the VM'}],
	choices: [['full', 'incremental']],
	examples: [
		{
			line: 'snapdeck backup web1',
			does: 'an incremental backup where the bitmaps allow, else a full one, into the repository of its policy',
		},
		{
			line: 'snapdeck backup web1 --full --limit 50 --repo /srv/backups',
			does: 'a full backup into /srv/backups, reading each disk at 50 MiB/s at most',
		},
	],
	flags: ['quiesce', 'full', 'incremental', 'no-compress', 'with-snapshots', 'limit', 'audit'],
	ownFlags: {
		full: {type: 'boolean', help: 'a full backup, whatever the bitmaps allow'},
		incremental: {type: 'boolean', help: 'an incremental, or fail saying why not'},
		'no-compress': {type: 'boolean', help: 'store the point uncompressed'},
		'with-snapshots': {type: 'boolean', help: 'also archive the stopped VM whole, every image of its snapshot tree'},
		audit: {
			type: 'boolean',
			help: 'also audit the point: each disk as it was at the backup, compared with what the point restores (writes the dirty bitmap missed fail the backup)',
		},
	},
	uses: ['backups'],
	backups: true,
	async run({args, flags, commandLine, service}) {
		const {vm} = args;
		if (flags.full && flags.incremental)
			throw new SnapdeckError('usage', '--full and --incremental exclude each other');
		const svc = await service();
		const point = await cancellable(signal =>
			svc.backup(vm, {
				bytesPerSecond: flags.limit === undefined ? undefined : Number(flags.limit) * 1024 * 1024,
				compress: !flags['no-compress'],
				withSnapshots: flags['with-snapshots'],
				quiesce: flags.quiesce,
				audit: flags.audit,
				mode: flags.full ? 'full' : flags.incremental ? 'incremental' : 'auto',
				command: commandLine,
				signal,
				onEvent: progressReporter(flags),
				onWarning: text => note(`snapdeck: warning: ${text}`),
				onDecision: decision =>
					flags.json
						? printJson({type: 'decision', ...decision})
						: note(
								`${decision.kind} backup${decision.base ? ` over ${decision.base}` : ''}${decision.reason ? `, because ${decision.reason}` : ''}`,
							),
			}),
		);
		if (flags.json)
			printJson({type: 'result', outcome: 'done', repository: svc.repository!.root, point: pointJson(point)});
		else
			print(
				`done: ${point.kind} backup ${point.id} of ${vm}, ${formatBytes(point.files.reduce((sum, file) => sum + file.size, 0))} in ${svc.repository!.vmDir(vm)}`,
			);
		return 0;
	},
});
