import type {Service} from '../service/service.js';
import type {CliFlags, FlagName} from './flags.js';

/** What a command is given to run. */
export interface CommandContext {
	/** The positionals after the command's name. */
	readonly args: readonly string[];
	readonly flags: CliFlags;
	/** The command line as typed, for the VM's lock and the journal. */
	readonly commandLine: string;
	/** The service on the one connection chosen (--connect), made on first use. */
	readonly service: () => Promise<Service>;
}

/**
 * One command of the command line: its help block (the synopsis, then what it does, as the
 * global help lists it), the flags it takes besides the global ones, and its run, which prints
 * its text or JSON and resolves to the exit code.
 */
export interface Command {
	readonly name: string;
	readonly usage: string;
	readonly flags: readonly FlagName[];
	/** The words its first argument may be (`config show`, `schedule install`): shell completion offers them. */
	readonly words?: readonly string[];
	/** It works on a VM's backups: the repository comes from the VM's policy when not given. */
	readonly backups?: boolean;
	run(context: CommandContext): Promise<number>;
}

export const defineCommand = (command: Command): Command => command;
