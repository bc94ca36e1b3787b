import {Text} from 'ink';
import {COMMANDS, displayKey, type Context, type Keymap} from '../keymap.js';
import {useTheme} from '../theme.js';

/** The keys that work here, from the keymap table: one line, cut at the terminal's width. */
export function HelpBar({keymap, context}: {keymap: Keymap; context: Context}) {
	const theme = useTheme();
	const items = keymap.barCommands(context);
	return (
		<Text wrap="truncate-end">
			{items.map((command, index) => (
				<Text key={command}>
					{index > 0 ? '  ' : ''}
					<Text bold color={theme.accent}>{keymap.keys[command].map(displayKey).join('/')}</Text> {COMMANDS[command].short}
				</Text>
			))}
		</Text>
	);
}
