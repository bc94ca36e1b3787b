import {Box} from 'ink';
import {Text} from '../components/text.js';
import {journalLine} from '../../core/describe.js';
import {journalDetails} from '../details.js';
import {useFollow, useJournal} from '../hooks/use-inventory.js';
import {windowStart} from '../layout.js';
import {useTheme} from '../theme.js';
import {Loading} from './loading.js';
import {useBinding, useCursor, type Screen, type ScreenProps} from './screen.js';

/** The journal of one VM's changes (or every VM's), newest last, a record a line; Enter shows one whole. */
function JournalScreen({context, visible}: ScreenProps) {
	const theme = useTheme();
	const {service, state, dispatch, height} = context;
	const journal = useJournal(service, state.vm, true);
	useFollow(journal, context.refresh);
	const records = journal.data ?? [];
	const cursor = useCursor(
		context,
		'log',
		records,
		record => `${record.time}\n${record.vm}\n${record.action}\n${record.snapshot}\n${record.outcome}`,
	);
	const record = cursor.current;
	useBinding(context, {
		rows: cursor.keys,
		vm: state.vm ?? undefined,
		commands: {
			open: () =>
				record
					? dispatch({
							type: 'open',
							overlay: {
								kind: 'details',
								title: `Journal record of ${record.vm}`,
								lines: journalDetails(record),
								scroll: 0,
							},
						})
					: 'nothing selected',
		},
	});
	const rows = Math.max(1, height - 1);
	const start = windowStart(records.length, cursor.index, rows);
	return (
		<Loading loaded={journal} what="the journal" height={height} visible={visible}>
			{() => (
				<Box flexDirection="column">
					<Text bold wrap="truncate-end">
						Journal{state.vm ? ` of ${state.vm}` : ''}:{' '}
						{records.length === 0 ? 'nothing recorded yet' : `${records.length} records, newest last`}
					</Text>
					{records.slice(start, start + rows).map((shown, offset) => (
						<Text
							key={start + offset}
							wrap="truncate-end"
							inverse={start + offset === cursor.index}
							color={shown.outcome === 'failed' ? theme.error : shown.outcome === 'cancelled' ? theme.warn : undefined}
						>
							{journalLine(shown)}
						</Text>
					))}
				</Box>
			)}
		</Loading>
	);
}

export const journalScreen: Screen = {
	name: 'log',
	label: 'the journal',
	title: state => `VMs › ${state.vm ?? 'all'} › journal`,
	opensAt: 'last',
	ofVm: true,
	Component: JournalScreen,
};
