/**
 * Errors are values with a message an operator can act on. `kind` decides the exit code:
 * bad usage or input -> 2, everything else that failed -> 1.
 */
export type ErrorKind = 'usage' | 'input' | 'not-found' | 'refused' | 'locked' | 'interrupted' | 'tool' | 'failed';

/**
 * Stable codes a script may branch on: `error.code` in --json output. A code keeps its meaning
 * once given; the README lists them. Finer than `kind`, which only decides the exit code.
 */
export const ERROR_CODES = {
	usage: 'the command line is wrong: a flag, an argument, a combination',
	input: 'input snapdeck cannot use: a file that is not what it should be, a value out of range',
	'bad-name': 'a VM, snapshot or point name snapdeck refuses (see "Names")',
	'not-found': 'something named does not exist (the message says what)',
	'no-such-vm': 'the connection has no VM of that name',
	'no-such-snapshot': 'the VM has no snapshot of that name',
	'no-such-point': 'there is no backup point of that id (here, or on the target)',
	'no-backups': 'the VM has no backup point at all (here, or on the target)',
	'duplicate-point':
		"two snapshots on an off-site target claim one point, and which is this host's copy cannot be told: restore --from needs --snapshot ID",
	busy: 'another operation holds the VM or its backups: the message names it',
	unfinished: 'an earlier operation was interrupted: finish it first (the hint says how)',
	'stopped-part-way': 'this operation stopped part way: the hint says how to finish or undo it',
	damaged: 'an image, a point or a chain is damaged or contradicts itself: nothing was changed',
	'no-space': 'not enough free space for the operation: nothing was changed',
	'tool-missing': 'a program snapdeck needs is not installed (the hint names its package)',
	unreachable: 'a host or an off-site target cannot be reached, or stopped answering (a time limit or a stall)',
	cancelled: 'cancelled (Ctrl-C, SIGTERM, a lost SSH session, or c in the UI)',
	'checkpoint-blocks-snapshot': 'libvirt will not snapshot a domain that has backup checkpoints while it is stopped',
	refused: 'refused for the reason the message gives: nothing was changed',
	failed: 'anything else that failed',
} as const;

export type ErrorCode = keyof typeof ERROR_CODES;

const CODE_OF_KIND: Record<ErrorKind, ErrorCode> = {
	usage: 'usage',
	input: 'input',
	'not-found': 'not-found',
	refused: 'refused',
	locked: 'busy',
	interrupted: 'unfinished',
	tool: 'tool-missing',
	failed: 'failed',
};

export class SnapdeckError extends Error {
	readonly kind: ErrorKind;
	/** What the operator can do about it, shown under the message. */
	readonly hint: string | undefined;
	/** The stable code (ERROR_CODES); the kind's own when no finer one is given. */
	readonly code: ErrorCode;

	constructor(kind: ErrorKind, message: string, hint?: string, code?: ErrorCode) {
		super(message);
		this.name = 'SnapdeckError';
		this.kind = kind;
		this.hint = hint;
		this.code = code ?? CODE_OF_KIND[kind];
	}
}

/** Any thrown value as an operator sees it: the one place that turns `unknown` into words and a code. */
export function describeError(error: unknown): {
	kind: ErrorKind;
	code: ErrorCode;
	message: string;
	hint: string | undefined;
} {
	if (error instanceof SnapdeckError)
		return {kind: error.kind, code: error.code, message: error.message, hint: error.hint};
	return {
		kind: 'failed',
		code: 'failed',
		message: error instanceof Error ? error.message : String(error),
		hint: undefined,
	};
}

/** The message of any thrown value. */
export const errorMessage = (error: unknown) => describeError(error).message;

/** Marks an error from a step that is atomic: it failed as a whole and changed nothing. */
export const changedNothing = <E extends Error>(error: E): E => Object.assign(error, {changedNothing: true});
export const isChangedNothing = (error: unknown) =>
	(error as {changedNothing?: boolean} | null)?.changedNothing === true;

export const exitCodeFor = (error: unknown): 1 | 2 =>
	error instanceof SnapdeckError && (error.kind === 'usage' || error.kind === 'input' || error.kind === 'not-found')
		? 2
		: 1;
