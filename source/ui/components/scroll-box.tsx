import {Box} from 'ink';
import {Text} from './text.js';
import type {ReactNode} from 'react';
import {useTheme} from '../theme.js';

export interface BoxRow {
	readonly text: string;
	readonly bold?: boolean;
	readonly color?: string;
}

/** The first row a box of `room` rows shows at `scroll`, kept inside the rows. */
export const scrollStart = (count: number, room: number, scroll: number) => Math.max(0, Math.min(scroll, count - room));

/**
 * Rows (already wrapped to the width) in a bordered box `height` rows tall, from `scroll` on, with
 * where they are when they do not all fit, and a last line of its own (the question, the keys).
 */
export function ScrollBox({rows, height, width, scroll, borderColor, footer}: {rows: readonly BoxRow[]; height: number; width: number; scroll: number; borderColor?: string; footer: ReactNode}) {
	const theme = useTheme();
	// Border 2, the footer 1, the scroll line 1 when needed.
	const room = Math.max(1, height - 3 - (rows.length > height - 3 ? 1 : 0));
	const start = scrollStart(rows.length, room, scroll);
	const shown = rows.slice(start, start + room);
	return (
		<Box flexDirection="column" borderStyle="round" borderColor={borderColor} paddingX={1} width={width}>
			{shown.map((row, index) => (
				<Text key={start + index} bold={row.bold} color={row.color}>{row.text}</Text>
			))}
			{rows.length > room && <Text color={theme.muted}>lines {start + 1}-{start + shown.length} of {rows.length}: ↑↓ PgUp PgDn scroll</Text>}
			{footer}
		</Box>
	);
}
