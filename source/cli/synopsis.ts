import {argName, flagOf, type Command} from './command.js';
import type {Flag} from './flags.js';

export const WIDTH = 96;
/** The column the global help lists what a command does at. */
export const SUMMARY_COLUMN = 44;

/** `text` in lines of at most WIDTH columns, each after `indent` spaces. */
export const wrap = (text: string, indent: number): string[] => wrapWords(text.split(' '), indent, indent);

/** Words (each kept whole: `[--limit MIB]`) in lines of at most WIDTH columns: the first after `first` spaces, the others after `rest`. */
function wrapWords(words: readonly string[], first: number, rest: number): string[] {
	const lines: string[] = [];
	let line = '';
	for (const word of words) {
		const indent = lines.length === 0 ? first : rest;
		if (line !== '' && indent + line.length + 1 + word.length > WIDTH) {
			lines.push(`${' '.repeat(indent)}${line}`);
			line = word;
		} else {
			line = line === '' ? word : `${line} ${word}`;
		}
	}
	return [...lines, `${' '.repeat(lines.length === 0 ? first : rest)}${line}`];
}

/** `--name VALUE` or `-y, --yes`, as the options' table shows a flag. */
export const flagSynopsis = (name: string, flag: Flag, short = true) => {
	return `${short && flag.short ? `-${flag.short}, ` : ''}--${name}${flag.value ? ` ${flag.value}` : ''}`;
};

/** The flags of a synopsis: the required ones bare, each choice once as [--a|--b], the rest each in brackets. */
function flagWords(command: Command): string[] {
	const shown = new Set<readonly string[]>();
	const synopsis = (name: string) => flagSynopsis(name, flagOf(command, name), false);
	return [...command.flags, ...(command.globals ?? [])].flatMap(name => {
		const choice = command.choices?.find(group => group.includes(name));
		if (!choice) return [command.required?.includes(name) ? synopsis(name) : `[${synopsis(name)}]`];
		if (shown.has(choice)) return [];
		shown.add(choice);
		return [`[${choice.map(synopsis).join('|')}]`];
	});
}

const synopsisWords = (command: Command) => [
	`snapdeck ${command.name}`,
	...command.args.map(argName),
	...flagWords(command),
];

/** `snapdeck revert VM SNAPSHOT [--yes] [--dry-run]`: one line, made from the spec. */
export const synopsisOf = (command: Command): string => synopsisWords(command).join(' ');

/** The synopsis wrapped at WIDTH, its continuation lines under its first argument. */
export const synopsisLines = (command: Command, indent = 2): string[] =>
	wrapWords(synopsisWords(command), indent, indent + `snapdeck ${command.name} `.length);

/** A command's block in the global help: its synopsis, what it does beside it (or under it, where the synopsis is long). */
export function usageBlock(command: Command): string[] {
	const lines = synopsisLines(command);
	const summary = wrap(command.summary, SUMMARY_COLUMN);
	const last = lines.at(-1)!;
	if (lines.length === 1 && last.length + 2 <= SUMMARY_COLUMN)
		return [`${last.padEnd(SUMMARY_COLUMN)}${summary[0]!.trimStart()}`, ...summary.slice(1)];
	return [...lines, ...summary];
}
