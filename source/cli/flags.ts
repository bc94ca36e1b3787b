import {parseArgs} from 'node:util';

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
 * Every flag of the command line, once: parseArgs's options, the flags' types (CliFlags) and the
 * help of each command are made from this table. Kept free of imports: the first frame of the UI
 * parses the command line before anything else is loaded.
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
	description: {type: 'string', value: 'TEXT', help: 'what the snapshot is for'},
	internal: {type: 'boolean', help: 'an internal snapshot (inside the qcow2 image) instead of an external one'},
	memory: {type: 'boolean', help: "save the running VM's memory too, so a revert resumes it where it was"},
	quiesce: {
		type: 'boolean',
		help: "freeze the guest's filesystems through its guest agent meanwhile (refused without an agent)",
	},
	dir: {
		type: 'string',
		value: 'DIR',
		help: "where the demo lab is built (default: demo/ in the user's data directory)",
	},
	all: {type: 'boolean', help: 'every running VM'},
	'all-connections': {type: 'boolean', help: "the records of every connection, not only this one's"},
	full: {type: 'boolean', help: 'a full backup, whatever the bitmaps allow'},
	incremental: {type: 'boolean', help: 'an incremental, or fail saying why not'},
	'no-compress': {type: 'boolean', help: 'store the point uncompressed'},
	audit: {
		type: 'boolean',
		help: 'also audit the point: each disk as it was at the backup, compared with what the point restores (writes the dirty bitmap missed fail the backup)',
	},
	'with-snapshots': {type: 'boolean', help: 'also archive the stopped VM whole, every image of its snapshot tree'},
	point: {type: 'string', value: 'ID', help: "the backup point ('snapdeck backups VM' lists them)"},
	origin: {
		type: 'string',
		value: 'HOST|TAG',
		help: "the backups of another VM of the same name (another host's, another lab's): its host name or the tag of its folder, as 'snapdeck backups VM' shows them",
	},
	limit: {type: 'string', value: 'MIB', whole: [1, Number.MAX_SAFE_INTEGER], help: 'MiB/s read at most (per disk)'},
	last: {
		type: 'string',
		value: 'N',
		whole: [1, Number.MAX_SAFE_INTEGER],
		help: 'how many records, the newest (default 50)',
	},
	via: {
		type: 'string',
		value: 'systemd|cron',
		words: ['systemd', 'cron'],
		help: 'schedule install: a systemd timer (the default where systemd runs), or the crontab line to add',
	},
	prometheus: {
		type: 'string',
		value: 'FILE',
		help: "also write the findings as a Prometheus textfile for node_exporter (atomically, mode 0644), also when health cannot tell (snapdeck_up 0); '-': to standard output, in place of the text",
	},
	'prometheus-mode': {
		type: 'string',
		value: 'MODE',
		help: "the textfile's mode, no wider than 0644 (default); 0640 with the folder's group set to the exporter's",
	},
	'restore-test': {type: 'boolean', help: 'also restore each point and check the restored image'},
	boot: {
		type: 'boolean',
		help: 'also boot the point (the newest, or --point) in a throwaway VM until the guest proves it is up',
	},
	extract: {type: 'string', value: 'PATH', help: 'the file or folder to copy out of the point'},
	instant: {type: 'boolean', help: 'a new VM that runs at once from the point while its data streams in'},
	timeout: {
		type: 'string',
		value: 'S',
		whole: [5, 3600],
		help: "how long a boot test waits for the guest, 5 to 3600 seconds (default: the policy's, else 90)",
	},
	from: {
		type: 'string',
		value: 'TARGET',
		help: 'an off-site target: a name from "offsite" in the config, or a restic repository',
	},
	snapshot: {
		type: 'string',
		value: 'ID',
		help: 'restore --from: the restic snapshot to restore the point from (its id, 8 or more of its first digits), where more than one claims the point',
	},
	'read-data': {type: 'boolean', help: "read all of the target's data back, not 10% of it"},
	to: {
		type: 'string',
		value: 'PATH',
		help: 'where it is written: a file or folder on this machine, made by the command',
	},
	target: {
		type: 'string',
		value: 'TARGET',
		help: "the off-site target: a name from \"offsite\" in the config, or a restic repository (default: the VM's policy's, else the config's only one)",
	},
	as: {type: 'string', value: 'NAME', help: "the new VM's name"},
	'in-place': {type: 'boolean', help: "over the stopped VM's own disks, after a safety snapshot (asks first)"},
	force: {type: 'boolean', help: 'use a point that failed its last verification'},
	prune: {type: 'boolean', help: 'remove the bitmaps no backup needs'},
	key: {
		type: 'string',
		value: 'PUBLIC',
		help: "the public key (PEM) a receipt must be signed by; default: this user's (receipts-ed25519.pub in the configuration folder)",
	},
	'keep-last': {type: 'string', value: 'N', whole: [1, Number.MAX_SAFE_INTEGER], help: 'keep the newest N points'},
	'keep-hourly': {
		type: 'string',
		value: 'N',
		whole: [1, Number.MAX_SAFE_INTEGER],
		help: 'keep the newest point of each of the last N hours',
	},
	'keep-daily': {
		type: 'string',
		value: 'N',
		whole: [1, Number.MAX_SAFE_INTEGER],
		help: 'keep the newest point of each of the last N days',
	},
	'keep-weekly': {
		type: 'string',
		value: 'N',
		whole: [1, Number.MAX_SAFE_INTEGER],
		help: 'keep the newest point of each of the last N weeks',
	},
	'keep-monthly': {
		type: 'string',
		value: 'N',
		whole: [1, Number.MAX_SAFE_INTEGER],
		help: 'keep the newest point of each of the last N months',
	},
	'keep-yearly': {
		type: 'string',
		value: 'N',
		whole: [1, Number.MAX_SAFE_INTEGER],
		help: 'keep the newest point of each of the last N years',
	},
} as const satisfies Record<string, Flag>;

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

const OPTIONS = Object.fromEntries(
	Object.entries(FLAGS).map(([name, flag]) => [
		name,
		{
			type: flag.type,
			...('short' in flag ? {short: flag.short} : {}),
			...('multiple' in flag ? {multiple: flag.multiple} : {}),
			...(flag.type === 'boolean' ? {default: false} : {}),
		},
	]),
) as unknown as {
	[Name in FlagName]: (typeof FLAGS)[Name]['type'] extends 'boolean'
		? {type: 'boolean'; default: false}
		: (typeof FLAGS)[Name] extends {multiple: true}
			? {type: 'string'; multiple: true}
			: {type: 'string'};
};

/** The command line, parsed: strict (an unknown flag is an error), the positionals after the flags. */
export const parseCommandLine = (argv: string[]) =>
	parseArgs({args: argv, options: OPTIONS, allowPositionals: true, strict: true});

export type CliFlags = ReturnType<typeof parseCommandLine>['values'];
