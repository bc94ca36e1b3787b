/**
 * The one way text is edited in the UI (names, descriptions, the filter, a typed confirmation):
 * the keys readline users expect. `at` is the cursor's place in characters.
 */
export function editText(value: string, at: number, spec: string): {value: string; at: number} | null {
	const chars = [...value];
	const cursor = Math.max(0, Math.min(at, chars.length));
	const join = (before: string[], after: string[]) => ({value: [...before, ...after].join(''), at: before.length});
	switch (spec) {
		case 'backspace': return join(chars.slice(0, Math.max(0, cursor - 1)), chars.slice(cursor));
		case 'left': return {value, at: Math.max(0, cursor - 1)};
		case 'right': return {value, at: Math.min(chars.length, cursor + 1)};
		case 'home':
		case 'ctrl+a': return {value, at: 0};
		case 'end':
		case 'ctrl+e': return {value, at: chars.length};
		case 'ctrl+u': return join([], chars.slice(cursor));
		case 'ctrl+k': return join(chars.slice(0, cursor), []);
		case 'ctrl+w': {
			// The word before the cursor, and the spaces after it, as readline's unix-word-rubout.
			let start = cursor;
			while (start > 0 && chars[start - 1] === ' ') start--;
			while (start > 0 && chars[start - 1] !== ' ') start--;
			return join(chars.slice(0, start), chars.slice(cursor));
		}
		default:
			return [...spec].length === 1 && spec.charCodeAt(0) >= 32 ? join([...chars.slice(0, cursor), spec], chars.slice(cursor)) : null;
	}
}

/** The text with the cursor drawn where it is ('▏'); `at` null: at the end. */
export const withCursor = (value: string, at: number | null) => {
	const chars = [...value];
	const cursor = at === null ? chars.length : Math.max(0, Math.min(at, chars.length));
	return `${chars.slice(0, cursor).join('')}▏${chars.slice(cursor).join('')}`;
};
