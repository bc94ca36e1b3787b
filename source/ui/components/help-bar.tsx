import {Text} from './text.js';
import {COMMANDS, displayKey, type Command, type Context, type Keymap} from '../keymap.js';
import {useTheme} from '../theme.js';

/**
 * The keys of a context that fit in `width` columns, whole, most important first; the help key
 * always among them when the context has one (its screen lists the rest).
 */
export function barItems(keymap: Keymap, context: Context, width: number): Array<{command: Command; keys: string}> {
	// Only the keys that act here (in a text field, letters are the text's).
	const keysOf = (command: Command) => keymap.keysIn(context, command).map(displayKey).join('/');
	const all = keymap
		.barCommands(context)
		.filter(command => keysOf(command) !== '')
		.map(command => ({command, keys: keysOf(command)}));
	const size = (item: {command: Command; keys: string}) => [...`${item.keys} ${COMMANDS[item.command].short}`].length;
	const help = all.find(item => item.command === 'help');
	let room = width - (help ? size(help) + 2 : 0);
	const shown = new Set<Command>();
	for (const item of all) {
		if (item === help) continue;
		const needed = size(item) + (shown.size > 0 ? 2 : 0);
		if (needed > room) continue;
		shown.add(item.command);
		room -= needed;
	}
	if (help) shown.add('help');
	return all.filter(item => shown.has(item.command));
}

/** The keys that work here, from the keymap table: one line of whole items that fits the terminal's width. */
export function HelpBar({keymap, context, width}: {keymap: Keymap; context: Context; width: number}) {
	const theme = useTheme();
	return (
		<Text wrap="truncate-end">
			{barItems(keymap, context, width).map((item, index) => (
				<Text key={item.command}>
					{index > 0 ? '  ' : ''}
					<Text bold color={theme.accent}>
						{item.keys}
					</Text>{' '}
					{COMMANDS[item.command].short}
				</Text>
			))}
		</Text>
	);
}
