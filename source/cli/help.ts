import {COMMANDS} from './commands/command-registry.js';
import {argName, flagOf, type Command} from './command.js';
import {everyCommand} from './command-flags.js';
import {GLOBAL_FLAGS, type FlagName} from './flags.js';
import {SnapdeckError} from '../core/errors.js';
import {didYouMean} from './suggest.js';
import {flagSynopsis, synopsisLines, usageBlock, wrap} from './synopsis.js';

/** Rows as a table: each name, then its text wrapped beside it. */
function table(rows: ReadonlyArray<readonly [string, string]>): string {
	const column = Math.max(...rows.map(([name]) => name.length)) + 4;
	return rows
		.map(([name, text]) => {
			const [first, ...rest] = wrap(text, column);
			return [`  ${name.padEnd(column - 2)}${first!.trimStart()}`, ...rest].join('\n');
		})
		.join('\n');
}

/** Flags as a table, each with what it is for in `command` where that says it of this command. */
const flagTable = (names: readonly string[], command?: Command) =>
	table(
		names.map(name => [
			flagSynopsis(name, flagOf(command, name)),
			command?.flagHelp?.[name as FlagName] ?? flagOf(command, name).help,
		]),
	);

const EXIT_CODES =
	'Exit codes: 0 done, 1 failed, 2 bad usage or input (health: 0 ok, 1 warning, 2 critical, 3 could not tell; a wrong command line is 2 there too).';

/** `snapdeck --help`: every command's synopsis and what it does, then the flags every command takes. */
export function usageText(): string {
	return [
		'snapdeck: snapshots and backups of virtual machines',
		'',
		'Usage:',
		`${'  snapdeck'.padEnd(44)}open the terminal UI on the default connection`,
		...everyCommand(COMMANDS).flatMap(usageBlock),
		'',
		'Options of every command:',
		flagTable(GLOBAL_FLAGS),
		'',
		"'snapdeck help COMMAND' (or 'snapdeck COMMAND --help') shows a command's arguments, own options and examples.",
		EXIT_CODES,
		'',
	].join('\n');
}

/** One command's (or subcommand's) part of its help: synopsis, what it does, arguments, options, examples. */
function commandSection(command: Command): string[] {
	return [
		...synopsisLines(command),
		'',
		...wrap(
			`${command.summary[0]!.toUpperCase()}${command.summary.slice(1)}.${command.description ? ` ${command.description}` : ''}`,
			2,
		),
		'',
		...(command.args.length > 0 ? ['Arguments:', table(command.args.map(spec => [argName(spec), spec.help])), ''] : []),
		...(command.flags.length > 0
			? [`Options of 'snapdeck ${command.name}':`, flagTable(command.flags, command), '']
			: []),
		...(command.examples.length > 0
			? ['Examples:', ...command.examples.flatMap(example => [`  ${example.line}`, ...wrap(example.does, 6)]), '']
			: []),
	];
}

/**
 * `snapdeck help COMMAND [SUBCOMMAND]` and `snapdeck COMMAND [SUBCOMMAND] --help`: a command's
 * help with its subcommands', or one subcommand's alone where `next` names it.
 */
export function commandHelp(name: string, next?: string, mustName = false): string {
	const command = COMMANDS.find(candidate => candidate.name === name);
	if (!command) throw unknownCommand(name);
	const sub = command.subcommands?.find(candidate => candidate.name === `${name} ${next}`);
	// `snapdeck help list web1`: after 'help', a second word can only name a subcommand.
	if (mustName && next !== undefined && !sub) {
		const names = (command.subcommands ?? []).map(candidate => candidate.name);
		throw new SnapdeckError(
			'usage',
			`'snapdeck help ${name}' takes no '${next}'`,
			names.length > 0
				? `its subcommands: ${names.map(one => `'snapdeck help ${one}'`).join(', ')}`
				: `'snapdeck help ${name}' tells all there is of it`,
		);
	}
	return [
		'Usage:',
		...(sub ? [sub] : [command, ...(command.subcommands ?? [])]).flatMap(commandSection),
		'Options of every command:',
		flagTable(GLOBAL_FLAGS),
		'',
		EXIT_CODES,
		'',
	].join('\n');
}

/** A command that is not there: the nearest ones, and every one. */
export function unknownCommand(name: string): SnapdeckError {
	const near = didYouMean(name, [...COMMANDS.map(command => command.name), 'help']);
	return new SnapdeckError(
		'usage',
		`unknown command '${name}'${near ? `: ${near}` : ''}`,
		`the commands are: ${COMMANDS.map(command => command.name).join(', ')}; 'snapdeck --help' tells what each does`,
	);
}
