/**
 * The one keymap table. Input handlers, the help bar and the `?` overlay all read it, so a key
 * cannot work undocumented. Config overrides replace a command's keys (see README "Keys").
 */
import {isTextKey, isValidKeySpec} from './key-specs.js';
import type {RoleName} from '../service/ports.js';

/** The screens (each a module under screens/): a new one is a name here, its module, and the command that opens it. */
export const SCREEN_NAMES = ['list', 'tree', 'backups', 'health', 'log', 'jobs', 'files'] as const;
export type ScreenName = (typeof SCREEN_NAMES)[number];

/**
 * `dialog`: a dialog's text field has the focus; `dialogOption`: one of its options (Space ticks it);
 * `nameDialog`: a dialog of one text field (the restore's name), with no other field to move to.
 */
export type Context =
	| 'starting'
	| ScreenName
	| 'filter'
	| 'dialog'
	| 'dialogOption'
	| 'nameDialog'
	| 'backupDialog'
	| 'confirm'
	| 'confirmTyped'
	| 'planning'
	| 'details'
	| 'help'
	| 'quitting';

/** Where a character typed is text (the filter, a name, a typed confirmation): there, no letter is a command. */
export const TEXT_CONTEXTS = ['filter', 'dialog', 'nameDialog', 'confirmTyped'] as const satisfies readonly Context[];
export const isTextContext = (context: Context) => (TEXT_CONTEXTS as readonly Context[]).includes(context);

/** Where the keys to move and scroll work: every screen and every box that scrolls. */
const MOVING = [...SCREEN_NAMES, 'help', 'confirm', 'confirmTyped', 'details'] as const;
/** Home and End: in a typed confirmation they move in the name being typed instead. */
const JUMPING = [...SCREEN_NAMES, 'help', 'confirm', 'details'] as const;
const DIALOGS = ['dialog', 'dialogOption'] as const;
const besides = (screen: ScreenName): ScreenName[] => SCREEN_NAMES.filter(name => name !== screen);

/**
 * Every command: what it does (long for the `?` screen, short for the help bar), where it
 * applies, and its place in the help bar (`bar`: lower comes first, 0 = only on the `?` screen),
 * so that at 80 columns the actions of a view come before the ways to move. `opens`: the screen
 * the command goes to, wherever it is pressed. `role`: what the connection must be able to do for
 * it (service.roleProblem); where it cannot, the key says why instead of starting a job.
 */
export const COMMANDS = {
	up: {description: 'move up', short: 'up', bar: 7, category: 'Move', contexts: MOVING},
	down: {description: 'move down', short: 'down', bar: 8, category: 'Move', contexts: MOVING},
	pageUp: {description: 'page up', short: 'page up', bar: 0, category: 'Move', contexts: MOVING},
	pageDown: {description: 'page down', short: 'page down', bar: 0, category: 'Move', contexts: MOVING},
	top: {description: 'first row', short: 'top', bar: 0, category: 'Move', contexts: JUMPING},
	bottom: {description: 'last row', short: 'bottom', bar: 0, category: 'Move', contexts: JUMPING},
	open: {
		description: 'open (tree, or item whole)',
		short: 'open',
		bar: 1,
		category: 'Move',
		contexts: ['list', 'health', 'backups', 'log', 'jobs', 'files'],
	},
	back: {description: 'back: up, or to the list', short: 'back', bar: 4, category: 'Move', contexts: besides('list')},
	take: {description: 'take snapshot', short: 'take', bar: 1, category: 'Snapshots', contexts: ['list', 'tree']},
	revert: {description: 'revert to selected', short: 'revert', bar: 2, category: 'Snapshots', contexts: ['tree']},
	merge: {description: 'merge/delete selected', short: 'merge', bar: 3, category: 'Snapshots', contexts: ['tree']},
	backup: {
		description: 'back up (auto, full, incr.)',
		short: 'backup',
		bar: 3,
		category: 'Backups',
		contexts: ['list', 'tree', 'backups', 'health'],
		role: 'backups',
	},
	backups: {
		description: "the VM's backup points",
		short: 'backups',
		bar: 4,
		category: 'Backups',
		contexts: ['list', 'tree'],
	},
	verify: {
		description: 'verify point: sha256, check',
		short: 'verify',
		bar: 1,
		category: 'Backups',
		contexts: ['backups', 'health'],
	},
	health: {
		description: 'health findings and fixes',
		short: 'health',
		bar: 4,
		category: 'View',
		contexts: ['list', 'tree'],
		opens: 'health',
	},
	log: {
		description: "journal of the VM's changes",
		short: 'log',
		bar: 0,
		category: 'View',
		contexts: ['list', 'tree'],
		opens: 'log',
	},
	jobs: {
		description: 'jobs: cancel one, its log',
		short: 'jobs',
		bar: 0,
		category: 'Jobs',
		contexts: besides('jobs'),
		opens: 'jobs',
	},
	connection: {
		description: 'next connection (--connect)',
		short: 'connection',
		bar: 0,
		category: 'View',
		contexts: ['list'],
	},
	verifyRestore: {
		description: 'verify with a restore test',
		short: 'verify+restore',
		bar: 2,
		category: 'Backups',
		contexts: ['backups'],
	},
	restore: {
		description: 'restore point as a new VM',
		short: 'restore',
		bar: 2,
		category: 'Backups',
		contexts: ['backups'],
		role: 'restores',
	},
	files: {description: "browse the point's files", short: 'files', bar: 4, category: 'Backups', contexts: ['backups']},
	extract: {description: 'extract file or folder', short: 'extract', bar: 2, category: 'Backups', contexts: ['files']},
	prune: {description: 'prune by policy retention', short: 'prune', bar: 3, category: 'Backups', contexts: ['backups']},
	copy: {
		description: 'copy to the off-site target',
		short: 'copy off-site',
		bar: 0,
		category: 'Backups',
		contexts: ['list', 'backups', 'health'],
	},
	backupAuto: {
		description: 'auto: incremental or full',
		short: 'auto',
		bar: 1,
		category: 'Dialogs',
		contexts: ['backupDialog'],
	},
	backupFull: {description: 'full backup', short: 'full', bar: 2, category: 'Dialogs', contexts: ['backupDialog']},
	backupIncremental: {
		description: 'incremental backup',
		short: 'incremental',
		bar: 3,
		category: 'Dialogs',
		contexts: ['backupDialog'],
	},
	filter: {description: 'filter VMs', short: 'filter', bar: 2, category: 'View', contexts: ['list']},
	clearFilter: {description: 'clear the filter', short: 'clear filter', bar: 0, category: 'View', contexts: ['list']},
	refresh: {description: 'refresh', short: 'refresh', bar: 9, category: 'View', contexts: SCREEN_NAMES},
	cancelJob: {
		description: 'cancel the (selected) job',
		short: 'cancel job',
		bar: 10,
		category: 'Jobs',
		contexts: SCREEN_NAMES,
	},
	clearMessages: {
		description: "clear ended jobs' messages",
		short: 'clear messages',
		bar: 0,
		category: 'Jobs',
		contexts: SCREEN_NAMES,
	},
	help: {description: 'help', short: 'help', bar: 5, category: 'View', contexts: SCREEN_NAMES},
	quit: {
		description: 'quit (asks while jobs run)',
		short: 'quit',
		bar: 6,
		category: 'View',
		contexts: ['starting', ...SCREEN_NAMES, 'quitting'],
	},
	confirm: {description: 'yes, do it', short: 'yes', bar: 1, category: 'Dialogs', contexts: ['confirm', 'quitting']},
	deny: {description: 'no, cancel', short: 'no', bar: 2, category: 'Dialogs', contexts: ['confirm', 'quitting']},
	submit: {
		description: 'accept',
		short: 'accept',
		bar: 1,
		category: 'Dialogs',
		contexts: [...DIALOGS, 'nameDialog', 'filter', 'confirmTyped'],
	},
	nextField: {description: 'next field', short: 'next field', bar: 2, category: 'Dialogs', contexts: DIALOGS},
	previousField: {
		description: 'previous field',
		short: 'previous field',
		bar: 0,
		category: 'Dialogs',
		contexts: DIALOGS,
	},
	tick: {
		description: 'tick or untick the option',
		short: 'tick',
		bar: 3,
		category: 'Dialogs',
		contexts: ['dialogOption'],
	},
	dismiss: {
		description: 'close',
		short: 'close',
		bar: 4,
		category: 'Dialogs',
		contexts: [...DIALOGS, 'nameDialog', 'filter', 'help', 'backupDialog', 'confirmTyped', 'details', 'planning'],
	},
	// Text fields: readline's keys (the shared editor, text-edit.ts, does what they say).
	cursorLeft: {description: 'cursor left', short: 'left', bar: 0, category: 'Text fields', contexts: TEXT_CONTEXTS},
	cursorRight: {description: 'cursor right', short: 'right', bar: 0, category: 'Text fields', contexts: TEXT_CONTEXTS},
	lineStart: {
		description: 'to the start of the text',
		short: 'start',
		bar: 0,
		category: 'Text fields',
		contexts: TEXT_CONTEXTS,
	},
	lineEnd: {
		description: 'to the end of the text',
		short: 'end',
		bar: 0,
		category: 'Text fields',
		contexts: TEXT_CONTEXTS,
	},
	deleteBack: {
		description: 'delete the character before',
		short: 'delete back',
		bar: 0,
		category: 'Text fields',
		contexts: TEXT_CONTEXTS,
	},
	deleteForward: {
		description: 'delete the character under',
		short: 'delete',
		bar: 0,
		category: 'Text fields',
		contexts: TEXT_CONTEXTS,
	},
	deleteToStart: {
		description: 'delete to the start',
		short: 'delete to start',
		bar: 0,
		category: 'Text fields',
		contexts: TEXT_CONTEXTS,
	},
	deleteToEnd: {
		description: 'delete to the end',
		short: 'delete to end',
		bar: 0,
		category: 'Text fields',
		contexts: TEXT_CONTEXTS,
	},
	deleteWord: {
		description: 'delete the word before',
		short: 'delete word',
		bar: 0,
		category: 'Text fields',
		contexts: TEXT_CONTEXTS,
	},
} as const satisfies Record<
	string,
	{
		description: string;
		short: string;
		bar: number;
		category: string;
		contexts: readonly Context[];
		opens?: ScreenName;
		role?: RoleName;
	}
>;

export type Command = keyof typeof COMMANDS;

/** Key specs: a character ('t', 'R', '?'), a named key, or 'ctrl+<char>'. */
export const DEFAULT_KEYS: Record<Command, readonly string[]> = {
	up: ['up', 'k'],
	down: ['down', 'j'],
	pageUp: ['pageup'],
	pageDown: ['pagedown'],
	top: ['home', 'g'],
	bottom: ['end', 'G'],
	open: ['enter', 'l'],
	back: ['escape', 'h'],
	take: ['t'],
	revert: ['r'],
	merge: ['m'],
	backup: ['b'],
	backups: ['B'],
	health: ['H'],
	log: ['L'],
	jobs: ['J'],
	connection: ['C'],
	verify: ['v'],
	verifyRestore: ['V'],
	restore: ['o'],
	files: ['F'],
	extract: ['x'],
	prune: ['P'],
	copy: ['O'],
	backupAuto: ['enter', 'a'],
	backupFull: ['f'],
	backupIncremental: ['i'],
	filter: ['/'],
	clearFilter: ['escape'],
	refresh: ['R'],
	cancelJob: ['c'],
	clearMessages: ['ctrl+l'],
	help: ['?'],
	quit: ['q', 'ctrl+c'],
	confirm: ['y'],
	// Ctrl-C closes whatever asks (a dialog, a field, a plan: declined); on a screen it quits.
	deny: ['n', 'escape', 'ctrl+c'],
	submit: ['enter'],
	nextField: ['tab'],
	previousField: ['shift+tab'],
	tick: [' '],
	dismiss: ['escape', 'ctrl+c'],
	cursorLeft: ['left', 'ctrl+b'],
	cursorRight: ['right', 'ctrl+f'],
	lineStart: ['home', 'ctrl+a'],
	lineEnd: ['end', 'ctrl+e'],
	deleteBack: ['backspace'],
	deleteForward: ['delete', 'ctrl+d'],
	deleteToStart: ['ctrl+u'],
	deleteToEnd: ['ctrl+k'],
	deleteWord: ['ctrl+w'],
};

export {displayKey, isTextKey, isValidKeySpec, keySpecsOf} from './key-specs.js';

export interface Keymap {
	readonly keys: Readonly<Record<Command, readonly string[]>>;
	/** The command a keypress means in a context, if any (in a text field, a character is text: none). */
	commandFor(context: Context, spec: string): Command | undefined;
	/** The keys that mean `command` in a context: what the help bar and the `?` screen show for it there. */
	keysIn(context: Context, command: Command): string[];
	/** Commands of a context, in table order. */
	commandsIn(context: Context): Command[];
	/** Commands of a context for the help bar, most important first. */
	barCommands(context: Context): Command[];
	/** Problems with the overrides (unknown commands, unusable keys); shown, never fatal. */
	readonly problems: readonly string[];
}

export function buildKeymap(overrides: Readonly<Record<string, readonly string[]>> = {}): Keymap {
	const keys: Record<Command, readonly string[]> = {...DEFAULT_KEYS};
	const problems: string[] = [];
	for (const [command, specs] of Object.entries(overrides)) {
		if (!(command in COMMANDS)) {
			problems.push(`keymap: unknown command '${command}' (known: ${Object.keys(COMMANDS).join(', ')})`);
			continue;
		}
		const bad = specs.filter(spec => !isValidKeySpec(spec));
		if (bad.length > 0)
			problems.push(`keymap.${command}: unusable key ${bad.map(spec => JSON.stringify(spec)).join(', ')}`);
		keys[command as Command] = specs.filter(isValidKeySpec);
	}
	const commands = Object.keys(COMMANDS) as Command[];
	const inContext = (context: Context) =>
		commands.filter(command => (COMMANDS[command].contexts as readonly Context[]).includes(context));
	const commandFor = (context: Context, spec: string) =>
		isTextContext(context) && isTextKey(spec)
			? undefined
			: inContext(context).find(command => keys[command].includes(spec));
	// A key shared by two commands of a context acts as the first: only there is it shown.
	const keysIn = (context: Context, command: Command) =>
		keys[command].filter(spec => commandFor(context, spec) === command);
	return {
		keys,
		problems,
		commandFor,
		keysIn,
		commandsIn: inContext,
		barCommands: context =>
			inContext(context)
				.filter(command => COMMANDS[command].bar > 0 && keysIn(context, command).length > 0)
				.sort((a, b) => COMMANDS[a].bar - COMMANDS[b].bar),
	};
}
