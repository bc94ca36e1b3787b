import {SnapdeckError} from '../core/errors.js';
import {checkFlagValues, typedArgs} from './arguments.js';
import {flagOf, vmOf, type Command} from './command.js';
import {everyFlag, withDefaults} from './command-flags.js';
import {unknownCommand} from './help.js';
import {COMMANDS} from './commands/command-registry.js';
import {GLOBAL_FLAGS, type ParsedFlags} from './flags.js';
import {openSession} from './support.js';
import {flagSynopsis} from './synopsis.js';

/** The command `name` names, or its subcommand where the first argument names one ('receipts verify'), with the arguments left for it. */
export function resolveCommand(name: string, args: readonly string[]): {command: Command; args: readonly string[]} {
	const command = COMMANDS.find(candidate => candidate.name === name);
	if (!command) throw unknownCommand(name);
	const sub = command.subcommands?.find(candidate => candidate.name === `${name} ${args[0]}`);
	return sub ? {command: sub, args: args.slice(1)} : {command, args};
}

/**
 * Runs the command `name` from the registry (commands/command-registry.ts): its flags and its
 * arguments checked against its spec before anything opens, its service made on first use.
 */
export async function runCommand(name: string, given: readonly string[], parsed: ParsedFlags): Promise<number> {
	const {command, args} = resolveCommand(name, given);
	const flags = withDefaults(parsed);
	const allowed = new Set<string>([...GLOBAL_FLAGS, ...command.flags]);
	// Flags a command does not read would be ignored without a word: refused instead.
	const unread = Object.keys(everyFlag()).filter(
		flag => flag !== 'version' && !allowed.has(flag) && flags[flag] !== undefined && flags[flag] !== false,
	);
	if (unread.length > 0)
		throw new SnapdeckError(
			'usage',
			`'snapdeck ${command.name}' does not take ${unread.map(flag => `--${flag}`).join(', ')}`,
			`see 'snapdeck help ${command.name}'`,
		);
	const missing = (command.required ?? []).filter(flag => flags[flag] === undefined);
	if (missing.length > 0)
		throw new SnapdeckError(
			'usage',
			`${command.name} needs ${missing.map(flag => flagSynopsis(flag, flagOf(command, flag), false)).join(', ')}`,
			`see 'snapdeck help ${command.name}'`,
		);
	checkFlagValues(command, flags);
	const values = typedArgs(command, args);
	const vm = command.backups ? vmOf(command, values) : undefined;
	const service = () =>
		openSession({
			connect: flags.connect,
			repo: flags.repo,
			backups: command.backups,
			...(vm === undefined ? {} : {vm}),
		});
	return command.run({
		args: values as never,
		flags: flags as never,
		commandLine: `snapdeck ${[name, ...given].join(' ')}`,
		service,
	});
}
