import {parseArgs} from 'node:util';

/** Flags by name (without the dashes). */
export type FlagTable = Readonly<Record<string, Flag>>;

export interface Flag {
	readonly type: 'string' | 'boolean';
	readonly short?: string;
	readonly multiple?: boolean;
	/** What the flag's value is, in help (`--limit MIB`). */
	readonly value?: string;
	/** Its value is a whole number from the first to the second (the runner checks it before the command runs). */
	readonly whole?: readonly [number, number];
	/** Its value is one of these words. */
	readonly words?: readonly string[];
	readonly help: string;
}

/**
 * The shared flags: those every command takes (GLOBAL_FLAGS) and those several commands take, each
 * with one meaning. A flag only one command takes is declared in that command's spec (its
 * `ownFlags`, commands/NAME-command.ts), and moves here once a second command takes it: a name
 * never means two things (command-flags.ts refuses a name declared twice). parseArgs's options,
 * the flags' types (CliFlags) and help are made from these tables. Kept free of imports: the first
 * frame of the UI parses the command line with this table alone, before anything else is loaded
 * (main.ts); a command's own flags are read once the commands are (command-flags.ts).
 */
export const FLAGS = {
	connect: {
		type: 'string',
		multiple: true,
		value: 'URI',
		help: "local:DIR, qemu:///system, qemu+ssh://USER@HOST/system, or a name from the config (also SNAPDECK_CONNECT); repeat it for several (list, health, the UI, where C switches between them); default: the config's, else the demo lab",
	},
	json: {type: 'boolean', help: 'machine-readable output (progress as JSON lines)'},
	yes: {type: 'boolean', short: 'y', help: 'do not ask for confirmation'},
	'dry-run': {type: 'boolean', help: 'print the plan, change nothing'},
	repo: {
		type: 'string',
		value: 'DIR',
		help: "the backup repository (also SNAPDECK_REPO; else the VM's policy's, or \"repository\" in the config); default: backups/ in the user's data directory",
	},
	now: {
		type: 'string',
		value: 'TIME',
		help: 'judge and act as if it were TIME (ISO 8601), where a command looks at the time (its synopsis names --now)',
	},
	help: {type: 'boolean', short: 'h', help: "this text; with a command (or 'snapdeck help COMMAND'), that command's"},
	version: {type: 'boolean', help: 'the version'},
	quiesce: {
		type: 'boolean',
		help: "freeze the guest's filesystems through its guest agent meanwhile (refused without an agent)",
	},
	point: {type: 'string', value: 'ID', help: "the backup point ('snapdeck backups VM' lists them)"},
	origin: {
		type: 'string',
		value: 'HOST|TAG',
		help: "the backups of another VM of the same name (another host's, another lab's): its host name or the tag of its folder, as 'snapdeck backups VM' shows them",
	},
	limit: {type: 'string', value: 'MIB', whole: [1, Number.MAX_SAFE_INTEGER], help: 'MiB/s read at most (per disk)'},
	from: {
		type: 'string',
		value: 'TARGET',
		help: 'an off-site target: a name from "offsite" in the config, or a restic repository',
	},
	to: {
		type: 'string',
		value: 'PATH',
		help: 'where it is written: a file or folder on this machine, made by the command',
	},
	force: {type: 'boolean', help: 'use a point that failed its last verification'},
} as const satisfies FlagTable;

export type FlagName = keyof typeof FLAGS;

/** The flags every command takes. */
export const GLOBAL_FLAGS = [
	'connect',
	'json',
	'yes',
	'dry-run',
	'repo',
	'now',
	'help',
] as const satisfies readonly FlagName[];

/** A table's flags as parseArgs's options: a boolean is false where not given. */
const optionsOf = (table: FlagTable) =>
	Object.fromEntries(
		Object.entries(table).map(([name, flag]) => [
			name,
			{
				type: flag.type,
				...(flag.short === undefined ? {} : {short: flag.short}),
				...(flag.multiple === undefined ? {} : {multiple: flag.multiple}),
				...(flag.type === 'boolean' ? {default: false} : {}),
			},
		]),
	);

/** The values of a table's flags as parsed: a boolean (false where not given), a string or strings (undefined where not given). */
export type FlagValues<Table extends FlagTable> = {
	readonly [Name in keyof Table]: Table[Name] extends {readonly type: 'boolean'}
		? boolean
		: Table[Name] extends {readonly multiple: true}
			? string[] | undefined
			: string | undefined;
};

/** The shared flags' values, typed; a command's context adds its own flags' (command.ts). */
export type CliFlags = FlagValues<typeof FLAGS>;

/** Every flag given, by name: the shared ones typed, any command's own by name. */
export type ParsedFlags = CliFlags & Readonly<Record<string, string | boolean | string[] | undefined>>;

/**
 * The command line, parsed: strict (an unknown flag is an error), the positionals after the flags.
 * With the shared table alone (the UI's first frame), or with every command's flags too
 * (command-flags.ts).
 */
export function parseCommandLine(argv: string[], table: FlagTable = FLAGS) {
	const {values, positionals} = parseArgs({
		args: argv,
		options: optionsOf(table),
		allowPositionals: true,
		strict: true,
	});
	return {values: values as ParsedFlags, positionals};
}
