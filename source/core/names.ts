import {SnapdeckError} from './errors.js';

/**
 * VM and snapshot names become file names and command arguments, so they are held to one small,
 * documented set: ASCII letters, digits, '.', '_' and '-', starting with a letter or digit,
 * at most 64 characters. Everything else is refused here, once, before any I/O.
 */
export const NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
export const NAME_RULE = "1-64 characters: letters A-Z a-z, digits, '.', '_' or '-', starting with a letter or digit";

export type NameKind = 'VM' | 'snapshot' | 'disk target';

export function nameProblem(name: string): string | undefined {
	if (name.length === 0) return 'it is empty';
	if (name.length > 64) return `it is ${name.length} characters long`;
	if (name.startsWith('-')) return "it starts with '-' (it would read as an option)";
	if (name.startsWith('.')) return "it starts with '.'";
	if (name.includes('/') || name.includes('\\')) return 'it contains a path separator';
	if (/\s/.test(name)) return 'it contains whitespace';
	const bad = [...name].find(ch => !/[A-Za-z0-9._-]/.test(ch));
	if (bad !== undefined) return `it contains ${JSON.stringify(bad)}`;
	return NAME_PATTERN.test(name) ? undefined : 'it does not match the allowed set';
}

export function assertValidName(kind: NameKind, name: string): string {
	const problem = nameProblem(name);
	if (problem) {
		throw new SnapdeckError(
			'input',
			`invalid ${kind} name ${JSON.stringify(name)}: ${problem}`,
			`${kind} names are ${NAME_RULE}`,
			'bad-name',
		);
	}
	return name;
}
