import {describe, expect, it} from 'vitest';
import {buildKeymap, keySpecsOf, type Context} from '../../source/ui/keymap.js';
import {editText, textEditFor, withCursor} from '../../source/ui/text-edit.js';

const keymap = buildKeymap();

/** Types what a terminal sends into `value` (cursor at its end), as the UI does, and shows where the cursor ends up. */
function typeInto(value: string, sent: string, context: Context = 'filter'): string {
	let state = {value, at: [...value].length};
	for (const spec of keySpecsOf(sent)) {
		const edit = textEditFor(keymap, context, spec);
		if (edit) state = editText(state.value, state.at, edit);
	}
	return withCursor(state.value, state.at);
}

const LEFT = '\x1b[D',
	RIGHT = '\x1b[C',
	HOME = '\x1b[H',
	END = '\x1b[F',
	DELETE = '\x1b[3~',
	BACKSPACE = '\x7f';

describe('text fields: the keys readline users expect, from the keymap', () => {
	it('types at the cursor, moves it, and deletes by character (either side), word and line', () => {
		expect(typeInto('snap', '-1')).toBe('snap-1▏');
		expect(typeInto('snap-1', `${LEFT}${LEFT}x`)).toBe('snapx▏-1');
		expect(typeInto('snap-1', `${LEFT}${LEFT}${RIGHT}x`)).toBe('snap-x▏1');
		expect(typeInto('snap-1', `${HOME}a`)).toBe('a▏snap-1');
		expect(typeInto('snap-1', `\x01\x05${BACKSPACE}`)).toBe('snap-▏');
		expect(typeInto('snap-1', `${HOME}${DELETE}`)).toBe('▏nap-1');
		expect(typeInto('snap-1', `${LEFT}${LEFT}\x04`)).toBe('snap▏1');
		expect(typeInto('snap-1', `${DELETE}`)).toBe('snap-1▏');
		expect(typeInto('snap-1', `\x02\x02\x06z`)).toBe('snap-z▏1');
		expect(typeInto('snap-1', `${HOME}${END}!`)).toBe('snap-1!▏');
		expect(typeInto('before the upgrade', '\x17')).toBe('before the ▏');
		expect(typeInto('before the upgrade  ', '\x17')).toBe('before the ▏');
		expect(typeInto('before the upgrade', `${LEFT}${LEFT}\x15`)).toBe('▏de');
		expect(typeInto('before the upgrade', `\x01${RIGHT}\x0b`)).toBe('b▏');
		expect(typeInto('é日本', `${LEFT}${BACKSPACE}`)).toBe('é▏本');
	});

	it('a letter is text in every field, j and q too; keys that are not editing keys are left to the field', () => {
		for (const context of ['filter', 'dialog', 'confirmTyped'] as const) {
			expect(typeInto('web', 'jkq ?y', context)).toBe('webjkq ?y▏');
			// Home in a typed confirmation moves in the name, as in any field (the plan scrolls with the arrows and pages).
			expect(typeInto('web', `${HOME}x`, context)).toBe('x▏web');
		}
		for (const spec of ['tab', 'shift+tab', 'enter', 'escape', 'ctrl+c', 'up', 'pagedown'])
			expect(textEditFor(keymap, 'filter', spec), spec).toBeNull();
		// Outside a text field nothing edits.
		expect(textEditFor(keymap, 'list', 'x')).toBeNull();
	});

	it('reads Delete, Shift-Tab and Ctrl-C from what the terminal sends, and Ctrl-C closes every field and dialog', () => {
		expect(keySpecsOf(`${DELETE}\x1b[Z\x03`)).toEqual(['delete', 'shift+tab', 'ctrl+c']);
		for (const context of [
			'filter',
			'dialog',
			'dialogOption',
			'confirmTyped',
			'details',
			'help',
			'backupDialog',
		] as const)
			expect(keymap.commandFor(context, 'ctrl+c'), context).toBe('dismiss');
		expect(keymap.commandFor('confirm', 'ctrl+c')).toBe('deny');
		expect(keymap.commandFor('list', 'ctrl+c')).toBe('quit');
		expect(keymap.commandFor('quitting', 'ctrl+c')).toBe('quit');
		expect(keymap.commandFor('dialog', 'shift+tab')).toBe('previousField');
		expect(keymap.commandFor('dialogOption', ' ')).toBe('tick');
		expect(keymap.commandFor('dialog', ' ')).toBeUndefined();
	});
});
