import {SnapdeckError} from '../core/errors.js';
import {unknownCommand} from './help.js';
import {COMMANDS} from './commands/command-registry.js';
import {FLAGS, GLOBAL_FLAGS, type CliFlags, type FlagName} from './flags.js';
import {openSession} from './support.js';

/** Runs the command `name` from the registry (commands/command-registry.ts): its flags checked, its service made on first use. */
export async function runCommand(name: string, args: readonly string[], flags: CliFlags): Promise<number> {
	const command = COMMANDS.find(candidate => candidate.name === name);
	if (!command) throw unknownCommand(name);
	const allowed = new Set<FlagName>([...GLOBAL_FLAGS, ...command.flags]);
	// Flags a command does not read would be ignored without a word: refused instead.
	const given = (Object.keys(FLAGS) as FlagName[]).filter(flag => flag !== 'version' && !allowed.has(flag) && flags[flag] !== undefined && flags[flag] !== false);
	if (given.length > 0) throw new SnapdeckError('usage', `'snapdeck ${name}' does not take ${given.map(flag => `--${flag}`).join(', ')}`, `see 'snapdeck help ${name}'`);
	const service = () => openSession({connect: flags.connect, repo: flags.repo, backups: command.backups, ...(command.backups && args[0] !== undefined ? {vm: args[0]} : {})});
	return command.run({args, flags, commandLine: `snapdeck ${[name, ...args].join(' ')}`, service});
}

