import {SnapdeckError} from '../../core/errors.js';
import {renderLog} from '../render.js';
import {connectionUri, journalConnection, journalRecords, print, printJson, repositoryDir, repositoryNamed} from '../support.js';
import {defineCommand} from '../command.js';

export default defineCommand({
	name: 'log',
	usage: `  snapdeck log [VM] [--limit N] [--all]     the journal: every change snapdeck made on this connection,
                                            newest last; --all: on every connection`,
	flags: ['limit', 'all'],
	async run({args, flags}) {
		if (args.length > 1) throw new SnapdeckError('usage', "'snapdeck log' takes at most one VM");
		const limit = flags.limit === undefined ? 50 : Number(flags.limit);
		if (!Number.isInteger(limit) || limit < 1) throw new SnapdeckError('usage', `--limit takes a whole number, got '${flags.limit}'`);
		const connection = flags.all ? null : journalConnection(await connectionUri(flags.connect));
		const repository = repositoryNamed(flags.repo) ? await repositoryDir(flags.repo, false) : null;
		const {file, records, hidden} = await journalRecords(args[0] ?? null, limit, {connection, repository});
		if (flags.json) printJson({journal: file, connection, records, hidden});
		else {
			print(renderLog(records));
			if (hidden > 0) print(`(${hidden} record${hidden === 1 ? '' : 's'} of other connections, or of older snapdecks that named none, not shown: --all shows them)`);
		}
		return 0;
	},
});
