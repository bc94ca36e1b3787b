/**
 * Keys as the keymap names them: specs ('t', 'enter', 'ctrl+l'), how a terminal's bytes become
 * specs, and how a spec is shown in the help. The table of what each key does is keymap.ts.
 */

const NAMED_KEYS = [
	'up',
	'down',
	'left',
	'right',
	'enter',
	'escape',
	'tab',
	'shift+tab',
	'backspace',
	'delete',
	'pageup',
	'pagedown',
	'home',
	'end',
];

export const isValidKeySpec = (spec: string) =>
	NAMED_KEYS.includes(spec) || /^ctrl\+[a-z]$/.test(spec) || [...spec].length === 1;

const SEQUENCES: Record<string, string> = {
	'\x1b[A': 'up',
	'\x1b[B': 'down',
	'\x1b[C': 'right',
	'\x1b[D': 'left',
	'\x1bOA': 'up',
	'\x1bOB': 'down',
	'\x1bOC': 'right',
	'\x1bOD': 'left',
	'\x1b[5~': 'pageup',
	'\x1b[6~': 'pagedown',
	'\x1b[H': 'home',
	'\x1b[1~': 'home',
	'\x1bOH': 'home',
	'\x1b[F': 'end',
	'\x1b[4~': 'end',
	'\x1bOF': 'end',
	'\x1b[3~': 'delete',
	'\x1b[Z': 'shift+tab',
	'\x1b': 'escape',
	'\r': 'enter',
	'\n': 'enter',
	'\t': 'tab',
	'\x7f': 'backspace',
	'\b': 'backspace',
};

/**
 * Splits what the terminal sent into key specs. Over SSH several keys often arrive in one read
 * ("jj\r", or "j" followed by an arrow's escape sequence); each must count.
 */
export function keySpecsOf(chunk: string): string[] {
	const specs: string[] = [];
	for (const [token] of chunk.matchAll(/\x1b\[[0-9;]*[A-Za-z~]|\x1bO[A-Za-z]|\x1b|[\s\S]/gu)) {
		const named = SEQUENCES[token];
		if (named) specs.push(named);
		else if (token.length === 1 && token.charCodeAt(0) < 27)
			specs.push(`ctrl+${String.fromCharCode(token.charCodeAt(0) + 96)}`);
		else if (!token.startsWith('\x1b')) specs.push(token);
	}
	return specs;
}

/** A key spec that types a character into a text field, as opposed to a named or ctrl key. */
export const isTextKey = (spec: string) => [...spec].length === 1;

const DISPLAY: Record<string, string> = {
	up: '↑',
	down: '↓',
	left: '←',
	right: '→',
	enter: 'Enter',
	escape: 'Esc',
	tab: 'Tab',
	'shift+tab': 'S-Tab',
	backspace: 'Bksp',
	delete: 'Del',
	pageup: 'PgUp',
	pagedown: 'PgDn',
	home: 'Home',
	end: 'End',
	' ': 'Space',
};
export const displayKey = (spec: string) =>
	DISPLAY[spec] ?? (spec.startsWith('ctrl+') ? `^${spec.slice(5).toUpperCase()}` : spec);
