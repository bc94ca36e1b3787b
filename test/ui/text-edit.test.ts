import {describe, expect, it} from 'vitest';
import {editText, withCursor} from '../../source/ui/text-edit.js';

/** Types the keys into `value` (cursor at its end), as the UI does, and shows where the cursor ends up. */
function typeInto(value: string, keys: string[]): string {
	let state = {value, at: [...value].length};
	for (const key of keys) state = editText(state.value, state.at, key) ?? state;
	return withCursor(state.value, state.at);
}

describe('text fields: the keys readline users expect', () => {
	it('types at the cursor, moves it, and deletes by character, word and line', () => {
		expect(typeInto('snap', ['-', '1'])).toBe('snap-1▏');
		expect(typeInto('snap-1', ['left', 'left', 'x'])).toBe('snapx▏-1');
		expect(typeInto('snap-1', ['home', 'a'])).toBe('a▏snap-1');
		expect(typeInto('snap-1', ['ctrl+a', 'ctrl+e', 'backspace'])).toBe('snap-▏');
		expect(typeInto('before the upgrade', ['ctrl+w'])).toBe('before the ▏');
		expect(typeInto('before the upgrade  ', ['ctrl+w'])).toBe('before the ▏');
		expect(typeInto('before the upgrade', ['left', 'left', 'ctrl+u'])).toBe('▏de');
		expect(typeInto('before the upgrade', ['ctrl+a', 'right', 'ctrl+k'])).toBe('b▏');
		expect(typeInto('é日本', ['left', 'backspace'])).toBe('é▏本');
		// Keys that are not editing keys leave the text alone (the caller gives them their meaning).
		expect(editText('x', 1, 'tab')).toBeNull();
		expect(editText('x', 1, 'ctrl+c')).toBeNull();
	});
});
