import {isTextContext, isTextKey, type Command, type Context, type Keymap} from './keymap.js';

/** The keymap's commands that edit text (category 'Text fields'). */
export const TEXT_EDITS = [
	'cursorLeft',
	'cursorRight',
	'lineStart',
	'lineEnd',
	'deleteBack',
	'deleteForward',
	'deleteToStart',
	'deleteToEnd',
	'deleteWord',
] as const satisfies readonly Command[];
export type TextEdit = (typeof TEXT_EDITS)[number] | {readonly insert: string};

const isEditCommand = (command: Command | undefined): command is (typeof TEXT_EDITS)[number] =>
	(TEXT_EDITS as readonly (Command | undefined)[]).includes(command);

/**
 * What a key does to a text field in `context`: a character typed, or one of the keymap's
 * editing commands; null when it does not edit (the caller gives it its meaning).
 */
export function textEditFor(keymap: Keymap, context: Context, spec: string): TextEdit | null {
	if (!isTextContext(context)) return null;
	if (isTextKey(spec)) return spec.codePointAt(0)! >= 32 && spec !== '\x7f' ? {insert: spec} : null;
	const command = keymap.commandFor(context, spec);
	return isEditCommand(command) ? command : null;
}

/**
 * The one way text is edited in the UI (names, descriptions, the filter, a typed confirmation):
 * what readline does for the same keys. `at` is the cursor's place in characters.
 */
export function editText(value: string, at: number, edit: TextEdit): {value: string; at: number} {
	const chars = [...value];
	const cursor = Math.max(0, Math.min(at, chars.length));
	const join = (before: string[], after: string[]) => ({value: [...before, ...after].join(''), at: before.length});
	if (typeof edit === 'object') return join([...chars.slice(0, cursor), ...edit.insert], chars.slice(cursor));
	switch (edit) {
		case 'deleteBack':
			return join(chars.slice(0, Math.max(0, cursor - 1)), chars.slice(cursor));
		case 'deleteForward':
			return join(chars.slice(0, cursor), chars.slice(cursor + 1));
		case 'cursorLeft':
			return {value, at: Math.max(0, cursor - 1)};
		case 'cursorRight':
			return {value, at: Math.min(chars.length, cursor + 1)};
		case 'lineStart':
			return {value, at: 0};
		case 'lineEnd':
			return {value, at: chars.length};
		case 'deleteToStart':
			return join([], chars.slice(cursor));
		case 'deleteToEnd':
			return join(chars.slice(0, cursor), []);
		case 'deleteWord': {
			// The word before the cursor, and the spaces after it, as readline's unix-word-rubout.
			let start = cursor;
			while (start > 0 && chars[start - 1] === ' ') start--;
			while (start > 0 && chars[start - 1] !== ' ') start--;
			return join(chars.slice(0, start), chars.slice(cursor));
		}
	}
}

/** The text with the cursor drawn where it is ('▏'); `at` null: at the end. */
export const withCursor = (value: string, at: number | null) => {
	const chars = [...value];
	const cursor = at === null ? chars.length : Math.max(0, Math.min(at, chars.length));
	return `${chars.slice(0, cursor).join('')}▏${chars.slice(cursor).join('')}`;
};
