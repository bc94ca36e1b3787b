import {Text} from 'ink';
import {COMMANDS, displayKey, isTextKey, type Context, type Keymap} from '../keymap.js';
import {useTheme} from '../theme.js';

/** The keys that work here, from the keymap table: one line, cut at the terminal's width. */
export function HelpBar({keymap, context}: {keymap: Keymap; context: Context}) {
	const theme = useTheme();
	// Where a name is being typed, letters are the name's: only the other keys act.
	const keysOf = (command: keyof typeof COMMANDS) => keymap.keys[command].filter(spec => context !== 'confirmTyped' || !isTextKey(spec));
	const items = keymap.barCommands(context).filter(command => keysOf(command).length > 0);
	return (
		<Text wrap="truncate-end">
			{items.map((command, index) => (
				<Text key={command}>
					{index > 0 ? '  ' : ''}
					<Text bold color={theme.accent}>{keysOf(command).map(displayKey).join('/')}</Text> {COMMANDS[command].short}
				</Text>
			))}
		</Text>
	);
}
