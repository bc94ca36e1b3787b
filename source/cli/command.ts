import type {PortName, PortsOf} from '../service/ports.js';
import {FLAGS, type CliFlags, type Flag, type FlagName, type FlagTable, type FlagValues} from './flags.js';

/**
 * What a positional argument is. The runner checks it before any session opens (arguments.ts),
 * help names it, and shell completion offers what fits (completion.ts).
 */
export type ArgKind =
	/** A VM of the connection: held to the name rules (core/names.ts); completion offers the connection's VMs. */
	| 'vm'
	/** A snapshot of the VM named before it: the name rules; completion offers that VM's snapshots. */
	| 'snapshot'
	/** The name of a snapshot about to be made: the name rules; nothing to offer. */
	| 'new-snapshot'
	/** One of the spec's `words`; completion offers them. */
	| 'word'
	/** A file or folder on this machine; completion offers paths. */
	| 'path'
	/** A path inside a guest's filesystem (or DEVICE:PATH): any text but empty. */
	| 'guest-path';

export interface ArgSpec {
	/** The name `run` reads its value by (`args.vm`). */
	readonly key: string;
	/** How help shows it (VM, SNAPSHOT); default: the key in capitals. A word's list shows itself. */
	readonly name?: string;
	readonly kind: ArgKind;
	readonly help: string;
	readonly optional?: boolean;
	/** It takes the rest of the positionals (zero or more when optional, else one or more). Last only. */
	readonly variadic?: boolean;
	/** The words a 'word' argument may be. */
	readonly words?: readonly string[];
}

type ValueOf<Spec extends ArgSpec> = Spec extends {variadic: true}
	? readonly string[]
	: Spec extends {words: ReadonlyArray<infer Word>}
		? Spec extends {optional: true}
			? Word | undefined
			: Word
		: Spec extends {optional: true}
			? string | undefined
			: string;

/** The positionals, checked and named: `{vm: 'web1', snapshot: 'pre-upgrade'}`. */
export type ArgValues<Args extends readonly ArgSpec[]> = {
	readonly [Spec in Args[number] as Spec['key']]: ValueOf<Spec>;
};

/** An example in the command's help: the line, and what it does. */
export interface Example {
	readonly line: string;
	readonly does: string;
}

/** A command's flags as its run reads them: the shared ones (flags.ts) and its own (`ownFlags`). */
export type CommandFlags<Own extends FlagTable = FlagTable> = CliFlags & FlagValues<Own>;

/** The name of a flag a command takes: a shared one, or one of its own. */
type FlagOf<Own extends FlagTable> = NoInfer<FlagName | Extract<keyof Own, string>>;

/** What a command is given to run: its checked arguments, and the session as the ports it declared (`uses`), and no more. */
export interface CommandContext<
	Uses extends PortName = PortName,
	Args extends readonly ArgSpec[] = readonly ArgSpec[],
	Own extends FlagTable = FlagTable,
> {
	readonly args: ArgValues<Args>;
	/** The shared flags' values and its own flags'. */
	readonly flags: CommandFlags<Own>;
	/** The command line as typed, for the VM's lock and the journal. */
	readonly commandLine: string;
	/** The session on the one connection chosen (--connect), made on first use, as the ports the command uses. */
	readonly service: () => Promise<PortsOf<Uses>>;
}

/**
 * One command of the command line, as a spec: its name, what it does, its typed positionals and
 * its flags, examples, and its run, which prints its text or JSON and resolves to the exit code.
 * Usage lines, help, the README's command list, shell completion and "did you mean" are all made
 * from these specs (synopsis.ts, help.ts, completion.ts).
 */
export interface Command<
	Uses extends PortName = PortName,
	Args extends readonly ArgSpec[] = readonly ArgSpec[],
	Own extends FlagTable = FlagTable,
> {
	/** Its name; a subcommand's is its parent's and its own ('receipts verify'). */
	readonly name: string;
	/**
	 * Where the help lists it among the commands: lowest first; those without one after, by name.
	 * A subcommand is listed under its parent, in the order of its parent's `subcommands`.
	 */
	readonly order?: number;
	/** What it does, in a line: the global help lists it beside the synopsis. */
	readonly summary: string;
	/** What else its help says: how its flags combine, what it prints, what it refuses. */
	readonly description?: string;
	readonly args: Args;
	/** The flags it takes besides the global ones, in the order its synopsis shows them: shared ones and its own. */
	readonly flags: readonly FlagOf<Own>[];
	/**
	 * The flags only this command takes, declared here (the shared ones are in flags.ts): a new
	 * flag of one command needs no other file. No two commands declare one name, nor one of the
	 * shared table's (command-flags.ts): a name has one meaning.
	 */
	readonly ownFlags?: Own;
	/** Of those, the ones it cannot do without. */
	readonly required?: readonly FlagOf<Own>[];
	/** Flags that exclude each other, shown as one choice: [--full | --incremental]. */
	readonly choices?: ReadonlyArray<readonly FlagOf<Own>[]>;
	/** The global flags that change what it does (--yes, --dry-run, --now), named in its synopsis. */
	readonly globals?: readonly FlagName[];
	/** What a shared flag is for in this command, where FLAGS says it for every command that takes it (one meaning, said of this command). */
	readonly flagHelp?: Partial<Record<FlagName, string>>;
	readonly examples: readonly Example[];
	/** Commands under this one, chosen by its first argument ('receipts verify FILE'). */
	readonly subcommands?: readonly Command[];
	/** It works on a VM's backups: the repository comes from the VM's policy when not given. */
	readonly backups?: boolean;
	/**
	 * The ports of the session (service/ports.ts) its run calls: its context's service is typed to
	 * those alone (none named: it offers nothing), so calling another role means naming it here.
	 */
	readonly uses?: readonly Uses[];
	run(context: CommandContext<Uses, Args, Own>): Promise<number>;
}

export const defineCommand = <
	Uses extends PortName = never,
	const Args extends readonly ArgSpec[] = readonly [],
	const Own extends FlagTable = Record<never, Flag>,
>(
	command: Command<Uses, Args, Own>,
): Command => command as unknown as Command;

/** The flag `name` as `command` takes it: one of its own, else the shared one (flags.ts). */
export function flagOf(command: Pick<Command, 'name' | 'ownFlags'> | undefined, name: string): Flag {
	const flag = command?.ownFlags?.[name] ?? (FLAGS as FlagTable)[name];
	if (!flag) throw new Error(`--${name} is neither a flag of 'snapdeck ${command?.name}' nor a shared one (flags.ts)`);
	return flag;
}

/** How help shows an argument: VM, [SNAPSHOT], VM..., path|show|schema. */
export function argName(spec: ArgSpec): string {
	const name = spec.name ?? (spec.kind === 'word' && spec.words ? spec.words.join('|') : spec.key.toUpperCase());
	const shown = spec.variadic ? `${name}...` : name;
	return spec.optional ? `[${shown}]` : shown;
}

/** The VM a command works on, where its first argument is one (the repository may come from its policy). */
export const vmOf = (command: Command, args: Readonly<Record<string, unknown>>): string | undefined => {
	const spec = command.args.find(arg => arg.kind === 'vm' && !arg.variadic);
	const value = spec && args[spec.key];
	return typeof value === 'string' ? value : undefined;
};
