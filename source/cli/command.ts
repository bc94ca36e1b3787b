import type {PortName, PortsOf} from '../service/ports.js';
import type {CliFlags, FlagName} from './flags.js';

/** What a command is given to run: the session as the ports it declared (`uses`), and no more. */
export interface CommandContext<Uses extends PortName = PortName> {
	/** The positionals after the command's name. */
	readonly args: readonly string[];
	readonly flags: CliFlags;
	/** The command line as typed, for the VM's lock and the journal. */
	readonly commandLine: string;
	/** The session on the one connection chosen (--connect), made on first use, as the ports the command uses. */
	readonly service: () => Promise<PortsOf<Uses>>;
}

/**
 * One command of the command line: its help block (the synopsis, then what it does, as the
 * global help lists it), the flags it takes besides the global ones, and its run, which prints
 * its text or JSON and resolves to the exit code.
 */
export interface Command<Uses extends PortName = PortName> {
	readonly name: string;
	readonly usage: string;
	readonly flags: readonly FlagName[];
	/** The words its first argument may be (`config show`, `schedule install`): shell completion offers them. */
	readonly words?: readonly string[];
	/** It works on a VM's backups: the repository comes from the VM's policy when not given. */
	readonly backups?: boolean;
	/**
	 * The ports of the session (service/ports.ts) its run calls: its context's service is typed to
	 * those alone (none named: it offers nothing), so calling another role means naming it here.
	 */
	readonly uses?: readonly Uses[];
	run(context: CommandContext<Uses>): Promise<number>;
}

export const defineCommand = <Uses extends PortName = never>(command: Command<Uses>): Command => command;
