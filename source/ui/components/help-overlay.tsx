import {Box, Text} from 'ink';
import {COMMANDS, displayKey, type Command, type Keymap} from '../keymap.js';
import {fit} from '../layout.js';
import {useTheme} from '../theme.js';

type Entry = {readonly heading: string} | {readonly command: Command};

/** The `?` screen: every command of the keymap table by category, in two columns to fit 80x24 (descriptions of up to 27 characters fit whole). */
export function HelpOverlay({keymap, width}: {keymap: Keymap; width: number}) {
	const theme = useTheme();
	const commands = Object.keys(COMMANDS) as Command[];
	const entries: Entry[] = [...new Set(commands.map(command => COMMANDS[command].category))].flatMap(category => [
		{heading: category},
		...commands.filter(command => COMMANDS[command].category === category).map(command => ({command})),
	]);
	const half = Math.ceil(entries.length / 2);
	// Border and padding take 4 columns, the gap between the columns 1.
	const columnWidth = Math.floor((width - 5) / 2);
	const column = (slice: Entry[], gap: number) => (
		<Box flexDirection="column" width={columnWidth} marginLeft={gap}>
			{slice.map(entry =>
				'heading' in entry ? (
					<Text key={entry.heading} bold color={theme.accent}>{entry.heading}</Text>
				) : (
					<Text key={entry.command} wrap="truncate-end">
						{' '}{fit(keymap.keys[entry.command].map(displayKey).join(',') || '-', 8)} {COMMANDS[entry.command].description}
					</Text>
				),
			)}
		</Box>
	);
	return (
		<Box flexDirection="column" borderStyle="round" paddingX={1}>
			<Box>
				{column(entries.slice(0, half), 0)}
				{column(entries.slice(half), 1)}
			</Box>
			{keymap.problems.map(problem => <Text key={problem} color={theme.warn} wrap="truncate-end">{problem}</Text>)}
		</Box>
	);
}
