import {COMMANDS} from './commands/command-registry.js';
import {FLAGS, flagSynopsis, GLOBAL_FLAGS, type FlagName} from './flags.js';
import {SnapdeckError} from '../core/errors.js';
import {didYouMean} from './suggest.js';

const WIDTH = 96;

/** `text` in lines of at most WIDTH columns, each after `indent` spaces. */
function wrap(text: string, indent: number): string[] {
	const lines: string[] = [];
	let line = '';
	for (const word of text.split(' ')) {
		if (line !== '' && indent + line.length + 1 + word.length > WIDTH) {
			lines.push(line);
			line = word;
		} else {
			line = line === '' ? word : `${line} ${word}`;
		}
	}
	return [...lines, line].map(text => `${' '.repeat(indent)}${text}`);
}

/** Flags as a table: the synopsis, then its help wrapped beside it. */
function flagTable(names: readonly FlagName[]): string {
	const column = Math.max(...names.map(name => flagSynopsis(name).length)) + 4;
	return names.map(name => {
		const [first, ...rest] = wrap(FLAGS[name].help, column);
		return [`  ${flagSynopsis(name).padEnd(column - 2)}${first!.trimStart()}`, ...rest].join('\n');
	}).join('\n');
}

const EXIT_CODES = 'Exit codes: 0 done, 1 failed, 2 bad usage or input (health: 0 ok, 1 warning, 2 critical, 3 could not tell; a wrong command line is 2 there too).';

/** `snapdeck --help`: every command's block, then the flags every command takes. */
export function usageText(): string {
	return [
		'snapdeck: snapshots and backups of virtual machines', '',
		'Usage:',
		'  snapdeck                                  open the terminal UI on the default connection',
		...COMMANDS.map(command => command.usage),
		'', 'Options of every command:', flagTable(GLOBAL_FLAGS), '',
		"'snapdeck help COMMAND' (or 'snapdeck COMMAND --help') shows a command's own options.",
		EXIT_CODES, '',
	].join('\n');
}

/** `snapdeck help COMMAND` and `snapdeck COMMAND --help`. */
export function commandHelp(name: string): string {
	const command = COMMANDS.find(candidate => candidate.name === name);
	if (!command) throw unknownCommand(name);
	return [
		'Usage:', command.usage, '',
		...(command.flags.length > 0 ? [`Options of 'snapdeck ${command.name}':`, flagTable(command.flags), ''] : []),
		'Options of every command:', flagTable(GLOBAL_FLAGS), '',
		EXIT_CODES, '',
	].join('\n');
}

/** A command that is not there: the nearest ones, and every one. */
export function unknownCommand(name: string): SnapdeckError {
	const near = didYouMean(name, [...COMMANDS.map(command => command.name), 'help']);
	return new SnapdeckError('usage', `unknown command '${name}'${near ? `: ${near}` : ''}`, `the commands are: ${COMMANDS.map(command => command.name).join(', ')}; 'snapdeck --help' tells what each does`);
}
