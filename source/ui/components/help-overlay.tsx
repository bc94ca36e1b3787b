import {Box} from 'ink';
import {Text} from './text.js';
import {COMMANDS, displayKey, type Command, type Context, type Keymap} from '../keymap.js';
import {fit} from '../layout.js';
import {useTheme} from '../theme.js';
import {scrollStart} from './scroll-box.js';

type Entry = {readonly heading: string} | {readonly command: Command};

/** Below this width the keys go in one column. */
const TWO_COLUMNS = 64;

/**
 * The rows of the `?` screen of one keymap context: its commands by category, in two columns when
 * wide enough (a category never split between them), else one. Each row: left and right entry.
 */
export function helpRows(keymap: Keymap, context: Context, width: number): Array<readonly [Entry | null, Entry | null]> {
	const commands = keymap.commandsIn(context);
	const groups: Entry[][] = [...new Set(commands.map(command => COMMANDS[command].category))].map(category => [
		{heading: category},
		...commands.filter(command => COMMANDS[command].category === category).map(command => ({command})),
	]);
	if (width < TWO_COLUMNS) return groups.flat().map(entry => [entry, null] as const);
	// Whole categories into the left column while it stays at most half of the rows.
	const total = groups.reduce((sum, group) => sum + group.length, 0);
	const left: Entry[] = [];
	let split = 0;
	while (split < groups.length && (split === 0 || left.length + groups[split]!.length <= Math.ceil(total / 2))) left.push(...groups[split++]!);
	const right = groups.slice(split).flat();
	return Array.from({length: Math.max(left.length, right.length)}, (_, row) => [left[row] ?? null, right[row] ?? null] as const);
}

/**
 * The `?` screen of the screen under it: the keys of its keymap context, in a box `height` rows
 * tall, scrolled with the movement keys when they do not all fit (descriptions of up to 27
 * characters fit whole at 80 columns).
 */
export function HelpOverlay({keymap, width, height, scroll, context, label}: {keymap: Keymap; width: number; height: number; scroll: number; context: Context; label: string}) {
	const theme = useTheme();
	const rows = helpRows(keymap, context, width);
	const notes = [`Keys on ${label}`, ...keymap.problems];
	// Border 2, the title and problems, the last line; the scroll line when needed.
	const room = Math.max(1, height - 3 - notes.length - (rows.length > height - 3 - notes.length ? 1 : 0));
	const start = scrollStart(rows.length, room, scroll);
	const twoColumns = width >= TWO_COLUMNS;
	const columnWidth = twoColumns ? Math.floor((width - 5) / 2) : width - 4;
	const cell = (entry: Entry | null, key: string) =>
		entry === null ? <Text key={key}>{' '.repeat(columnWidth)}</Text>
			: 'heading' in entry ? <Text key={key} bold color={theme.accent}>{fit(entry.heading, columnWidth)}</Text>
				: <Text key={key}>{fit(` ${fit(keymap.keysIn(context, entry.command).map(displayKey).join(',') || '-', 8)} ${COMMANDS[entry.command].description}`, columnWidth)}</Text>;
	return (
		<Box flexDirection="column" borderStyle="round" paddingX={1} width={width}>
			<Text bold wrap="truncate-end">{notes[0]}</Text>
			{notes.slice(1).map(problem => <Text key={problem} color={theme.warn} wrap="truncate-end">{problem}</Text>)}
			{rows.slice(start, start + room).map(([left, right], index) => (
				<Text key={start + index} wrap="truncate-end">{cell(left, 'l')}{twoColumns ? <Text> </Text> : null}{twoColumns ? cell(right, 'r') : null}</Text>
			))}
			{rows.length > room && <Text color={theme.muted} wrap="truncate-end">lines {start + 1}-{Math.min(rows.length, start + room)} of {rows.length}: ↑↓ PgUp PgDn scroll</Text>}
			<Text color={theme.muted} wrap="truncate-end">Each dialog lists its own keys on the bottom line.</Text>
		</Box>
	);
}
