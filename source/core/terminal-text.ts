/**
 * The one sanitizer for text on its way to a terminal. Text from outside (a snapshot's
 * description, a VM folder's name, a guest's file names, a tool's error words) may hold control
 * sequences: ESC and CSI (move the cursor, clear the screen, set the window title, change colours),
 * BEL, a carriage return that overwrites a line, bidirectional overrides that reorder what is
 * shown. Every one is shown visibly (as `\x1b`, `\r`, `\u202e`) and none reaches the terminal as
 * itself. JSON output is left as it is (JSON escapes them already).
 */

/** C0 controls, DEL, C1 controls, and the Unicode controls that reorder or hide text. */
const UNSAFE = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u061c\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff]/g;
const UNSAFE_LINES = /[\u0000-\u0009\u000a-\u001f\u007f-\u009f\u061c\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff]/g;

const NAMED: Readonly<Record<string, string>> = {'\n': '\\n', '\r': '\\r', '\t': '\\t'};

const visible = (char: string) => {
	if (NAMED[char]) return NAMED[char];
	const code = char.charCodeAt(0);
	return code <= 0xff ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u${code.toString(16).padStart(4, '0')}`;
};

/**
 * `text` with every control character shown visibly: a line of its own (a name, a description)
 * keeps no line break or tab either; with `lines`, line breaks and tabs stay (a multi-line message).
 */
export function safeText(text: string, options: {lines?: boolean} = {}): string {
	return text.replace(options.lines ? UNSAFE : UNSAFE_LINES, visible);
}

/** Whether `text` would be changed by safeText (it holds a control character). */
export const hasControlCharacters = (text: string, options: {lines?: boolean} = {}) => safeText(text, options) !== text;
