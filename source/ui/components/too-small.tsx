import {Box} from 'ink';
import {Text} from './text.js';
import {useTheme} from '../theme.js';

/** Below this, no screen can show a plan or a list usefully: the UI asks for a larger terminal. */
export const MIN_COLUMNS = 40;
export const MIN_ROWS = 12;

/** What a terminal too small to show a screen gets instead; `quitKey` null while jobs run (they go on meanwhile). */
export function TooSmall({
	columns,
	rows,
	quitKey,
	notice,
}: {
	columns: number;
	rows: number;
	quitKey: string | null;
	notice: string | null;
}) {
	const theme = useTheme();
	return (
		<Box flexDirection="column" width={columns} height={Math.max(3, rows - 1)}>
			<Text wrap="wrap">
				snapdeck: the terminal is {columns}x{rows}; it needs at least {MIN_COLUMNS}x{MIN_ROWS}.
			</Text>
			<Text wrap="wrap" color={theme.muted}>
				Enlarge it to go on{quitKey === null ? ' (jobs keep running meanwhile)' : `, or ${quitKey} to quit`}.
			</Text>
			{notice !== null && (
				<Text wrap="wrap" color={theme.warn}>
					{notice}
				</Text>
			)}
		</Box>
	);
}
