import {COMMANDS} from './commands/command-registry.js';
import type {Command} from './command.js';
import {FLAGS, parseCommandLine, type Flag, type FlagTable, type ParsedFlags} from './flags.js';

/** Every command and its subcommands, in the order help lists them. */
export const everyCommand = (commands: readonly Command[] = COMMANDS): Command[] =>
	commands.flatMap(command => [command, ...(command.subcommands ?? [])]);

/**
 * The shared flags (flags.ts) and every command's own, as one table: what the command line may
 * hold. A name has one meaning: a command that declares one of the shared names as its own, or
 * two commands that declare one name, are refused here (a flag two commands take belongs in the
 * shared table), which every command line and test/cli/command-specs.test.ts meet first.
 */
export function flagTableOf(commands: readonly Command[]): FlagTable {
	const table: Record<string, Flag> = {...FLAGS};
	const owners = new Map<string, string>();
	for (const command of everyCommand(commands)) {
		for (const [name, flag] of Object.entries(command.ownFlags ?? {})) {
			const owner = owners.get(name);
			if (name in FLAGS || owner !== undefined)
				throw new Error(
					`'snapdeck ${command.name}' declares --${name} as its own, and ${owner === undefined ? 'flags.ts shares it' : `'snapdeck ${owner}' does too`}: a flag has one meaning; one that several commands take goes in the shared table (flags.ts)`,
				);
			owners.set(name, command.name);
			table[name] = flag;
		}
	}
	return table;
}

let every: FlagTable | undefined;
/** Every flag of every command (flagTableOf the registry), made on first use. */
export const everyFlag = (): FlagTable => (every ??= flagTableOf(COMMANDS));

/** The command line parsed with every command's flags: where one of a command's own is given (main.ts). */
export const parseWithEveryFlag = (argv: string[]) => parseCommandLine(argv, everyFlag());

/** The values with each boolean flag not given set false, as parseArgs sets those it was told of. */
export function withDefaults(values: ParsedFlags): ParsedFlags {
	const filled: Record<string, unknown> = {...values};
	for (const [name, flag] of Object.entries(everyFlag()))
		if (flag.type === 'boolean' && filled[name] === undefined) filled[name] = false;
	return filled as ParsedFlags;
}
