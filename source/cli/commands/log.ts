import {SnapdeckError} from '../../core/errors.js';
import {renderLog} from '../render.js';
import {journalRecords, print, printJson} from '../support.js';
import {defineCommand} from '../command.js';

export default defineCommand({
	name: 'log',
	usage: `  snapdeck log [VM] [--limit N]             the journal: every change snapdeck made, newest last`,
	flags: ['limit'],
	async run({args, flags}) {
		if (args.length > 1) throw new SnapdeckError('usage', "'snapdeck log' takes at most one VM");
		const limit = flags.limit === undefined ? 50 : Number(flags.limit);
		if (!Number.isInteger(limit) || limit < 1) throw new SnapdeckError('usage', `--limit takes a whole number, got '${flags.limit}'`);
		const {file, records} = await journalRecords(args[0] ?? null, limit);
		if (flags.json) printJson({journal: file, records});
		else print(renderLog(records));
		return 0;
	},
});
