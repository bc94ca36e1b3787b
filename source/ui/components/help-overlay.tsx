import {Box, Text} from 'ink';
import {COMMANDS, displayKey, type Command, type Keymap} from '../keymap.js';
import {useTheme} from '../theme.js';

/** The `?` screen: every command of the keymap table, by category. */
export function HelpOverlay({keymap}: {keymap: Keymap}) {
	const theme = useTheme();
	const commands = Object.keys(COMMANDS) as Command[];
	const categories = [...new Set(commands.map(command => COMMANDS[command].category))];
	return (
		<Box flexDirection="column" borderStyle="round" paddingX={1}>
			<Text bold>Keys</Text>
			{categories.map(category => (
				<Box key={category} flexDirection="column">
					<Text color={theme.accent}>{category}</Text>
					{commands.filter(command => COMMANDS[command].category === category).map(command => (
						<Text key={command} wrap="truncate-end">
							{'  '}{(keymap.keys[command].map(displayKey).join(', ') || '(none)').padEnd(14)} {COMMANDS[command].description}
						</Text>
					))}
				</Box>
			))}
			{keymap.problems.map(problem => <Text key={problem} color={theme.warn}>{problem}</Text>)}
		</Box>
	);
}
