import {renderLog} from '../render.js';
import {
	connectionUri,
	journalConnection,
	journalRecords,
	print,
	printJson,
	repositoryDir,
	repositoryNamed,
} from '../support.js';
import {defineCommand} from '../command.js';

export default defineCommand({
	name: 'log',
	order: 230,
	summary: 'the journal: every change snapdeck made, newest last',
	description: 'On this connection; --all-connections: on every one.',
	args: [{key: 'vm', kind: 'vm', optional: true, help: 'only the changes to this VM'}],
	examples: [{line: 'snapdeck log web1 --last 10', does: 'the ten newest changes to web1'}],
	flags: ['last', 'all-connections'],
	ownFlags: {
		last: {
			type: 'string',
			value: 'N',
			whole: [1, Number.MAX_SAFE_INTEGER],
			help: 'how many records, the newest (default 50)',
		},
		'all-connections': {type: 'boolean', help: "the records of every connection, not only this one's"},
	},
	async run({args, flags}) {
		const limit = flags.last === undefined ? 50 : Number(flags.last);
		const connection = flags['all-connections'] ? null : journalConnection(await connectionUri(flags.connect));
		const repository = repositoryNamed(flags.repo) ? await repositoryDir(flags.repo, false) : null;
		const {file, records, hidden} = await journalRecords(args.vm ?? null, limit, {connection, repository});
		if (flags.json) printJson({journal: file, connection, records, hidden});
		else {
			print(renderLog(records));
			if (hidden > 0)
				print(
					`(${hidden} record${hidden === 1 ? '' : 's'} of other connections, or of older snapdecks that named none, not shown: --all-connections shows them)`,
				);
		}
		return 0;
	},
});
