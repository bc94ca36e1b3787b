import type {Dispatch, ReactNode} from 'react';
import type {Actions} from '../actions.js';
import type {Jobs} from '../hooks/use-jobs.js';
import type {Command, Context, Keymap} from '../keymap.js';
import type {PagerGeometry} from '../pager.js';
import type {Overlay, UiAction} from '../state.js';

/** The overlay of one kind, narrowed: what its module is given. */
export type OverlayOf<K extends Overlay['kind']> = Extract<Overlay, {kind: K}>;

/** What a key on an open overlay is routed with (route-key.ts): the key, its command here, and what the app has. */
export interface OverlayKeys {
	readonly overlay: Overlay;
	readonly command: Command | undefined;
	readonly spec: string;
	readonly dispatch: Dispatch<UiAction>;
	readonly jobs: Jobs;
	readonly actions: Actions;
	readonly filter: string;
	/** Rows the body has, the terminal's columns, and where a pager (a plan, a detail view, the help) is drawn. */
	readonly height: number;
	readonly width: number;
	readonly geometry: PagerGeometry;
	/** The status line's note now (a plan covering the terminal shows it inside). */
	readonly notice: string | null;
	readonly quit: {readonly force: () => void};
	readonly keymap: Keymap;
	/** The screen under the overlay (the help lists its keys) and what it is called. */
	readonly screen: Context;
	readonly screenLabel: string;
}

/** What an overlay's key handler gets besides its own overlay: the key, and ways to change or close it. */
export interface OverlayKeyInput<O extends Overlay> extends Omit<OverlayKeys, 'overlay'> {
	/** Replaces the open overlay (by one of its kind). */
	readonly update: (next: O) => void;
	readonly close: () => void;
	/** `value` edited by the key (readline's keys, from the keymap, in the overlay's context); null when the key does not edit text here. */
	readonly edited: (value: string, at: number | null) => {value: string; at: number} | null;
}

/** What an overlay is drawn with. */
export interface OverlayDraw {
	readonly jobs: Jobs;
	readonly keymap: Keymap;
	readonly repository: (vm: string) => string;
	/** The body's rows, the terminal's columns and rows (a plan may cover the whole terminal). */
	readonly height: number;
	readonly width: number;
	readonly geometry: PagerGeometry;
	/** The status line's note (a plan covering the terminal shows it inside). */
	readonly notice: string | null;
	/** The screen under the overlay: its context (the help lists its keys) and what it is called. */
	readonly screen: {readonly context: Context; readonly label: string};
	/** The scrolling keys a pager's position line names. */
	readonly keys: string;
}

/** What an overlay says on the status line; `warn`: in the warning colour (a question), else muted unless a note is shown. */
export interface OverlayStatus {
	readonly text: string;
	readonly warn: boolean;
}

/**
 * One overlay: its keymap context (a context of the one table, keymap.ts, which holds its keys and
 * their descriptions), its key handler, and how it is drawn. The registry (index.tsx) has one per
 * kind of Overlay, each given its overlay narrowed.
 */
export interface OverlayModule<O extends Overlay> {
	/** Which commands its keys mean now (keymap.ts's context). */
	readonly context: (overlay: O, jobs: Jobs) => Context;
	/** A key while it is open: only it acts on it. Returns the status line's text, if any. */
	readonly key: (overlay: O, input: OverlayKeyInput<O>) => string | void;
	/** What it draws in the body, covering the screen; null: it draws on the status line and leaves the screen in view. */
	readonly render: ((overlay: O, draw: OverlayDraw) => ReactNode) | null;
	/** What it says on the status line instead of the note, if anything. */
	readonly status?: (
		overlay: O,
		now: {readonly filter: string; readonly running: number; readonly keymap: Keymap},
	) => OverlayStatus | null;
	/**
	 * A pager, drawn by the geometry of pager.ts (covering a small terminal): a plan (a decision: it
	 * covers the jobs' messages too) or a view (a detail view, the help); absent or null: not a pager.
	 */
	readonly pager?: (overlay: O, jobs: Jobs) => 'plan' | 'view' | null;
}
