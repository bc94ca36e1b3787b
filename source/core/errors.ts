/**
 * Errors are values with a message an operator can act on. `kind` decides the exit code:
 * bad usage or input -> 2, everything else that failed -> 1.
 */
export type ErrorKind = 'usage' | 'input' | 'not-found' | 'refused' | 'locked' | 'interrupted' | 'tool' | 'failed';

export class SnapdeckError extends Error {
	readonly kind: ErrorKind;
	/** What the operator can do about it, shown under the message. */
	readonly hint: string | undefined;

	constructor(kind: ErrorKind, message: string, hint?: string) {
		super(message);
		this.name = 'SnapdeckError';
		this.kind = kind;
		this.hint = hint;
	}
}

/** Marks an error from a step that is atomic: it failed as a whole and changed nothing. */
export const changedNothing = <E extends Error>(error: E): E => Object.assign(error, {changedNothing: true});
export const isChangedNothing = (error: unknown) => (error as {changedNothing?: boolean} | null)?.changedNothing === true;

export const exitCodeFor = (error: unknown): 1 | 2 =>
	error instanceof SnapdeckError && (error.kind === 'usage' || error.kind === 'input' || error.kind === 'not-found')
		? 2
		: 1;
