// A faster styledCharsToString for Ink's output, patched in by the bundle (scripts/bundle.mjs).
import {readFileSync} from 'node:fs';

/**
 * Ink builds every frame as a grid of styled cells (80x23 here) and turns each row back into text
 * with @alcalzone/ansi-tokenize's styledCharsToString, which asks diffAnsiCodes for the codes between
 * each cell and the next: three Sets, two filters and a few arrays per cell, even when both cells
 * have the same style (most do: a run of one colour, or blank). In --cpu-prof of the UI's start, that
 * was a quarter of the time from the app's first frame to the VM list. The patch skips the diff when
 * the two cells' codes are the same, in the same order (the diff is then empty), and the opening and
 * closing codes of a row without style. The text is the same (test/scripts/ansi-tokenize-patch.test.ts).
 */
const SLOW = `        if (i === 0) {
            ret += ansiCodesToString(char.styles);
        }
        else {
            ret += ansiCodesToString(diffAnsiCodes(chars[i - 1].styles, char.styles));
        }
        ret += char.value;
        // reset active styles at the end of the string
        if (i === chars.length - 1) {
            ret += ansiCodesToString(diffAnsiCodes(char.styles, []));
        }`;

const FAST = `        if (i === 0) {
            if (char.styles.length > 0) ret += ansiCodesToString(char.styles);
        }
        else if (!sameCodes(chars[i - 1].styles, char.styles)) {
            ret += ansiCodesToString(diffAnsiCodes(chars[i - 1].styles, char.styles));
        }
        ret += char.value;
        // reset active styles at the end of the string
        if (i === chars.length - 1 && char.styles.length > 0) {
            ret += ansiCodesToString(diffAnsiCodes(char.styles, []));
        }`;

const SAME_CODES = `
function sameCodes(a, b) {
    if (a.length !== b.length) return false;
    for (let i = 0; i < a.length; i++) if (a[i].code !== b[i].code) return false;
    return true;
}
`;

/** The module's source with the faster loop; throws when the package changed what it patches. */
export function patchStyledChars(source, path = 'styledChars.js') {
	if (!source.includes(SLOW))
		throw new Error(
			`${path} changed: check whether @alcalzone/ansi-tokenize's styledCharsToString still diffs every cell (see scripts/ansi-tokenize-patch.mjs), then update or drop this patch`,
		);
	return source.replace(SLOW, FAST) + SAME_CODES;
}

/** The esbuild plugin that applies it. */
export const fasterStyledChars = {
	name: 'ansi-tokenize-faster-styled-chars',
	setup(build) {
		build.onLoad({filter: /[\\/]@alcalzone[\\/]ansi-tokenize[\\/]build[\\/]styledChars\.js$/}, ({path}) => ({
			contents: patchStyledChars(readFileSync(path, 'utf8'), path),
			loader: 'js',
		}));
	},
};
