import type {RestoreForm, TakeForm} from './components/dialogs.js';
import type {ScreenName} from './keymap.js';

export type {ScreenName} from './keymap.js';

/** A cursor by identity: the key of the item it is on, and the row that places it when that item is gone. */
export interface Cursor {
	readonly key: string | null;
	readonly index: number;
}

/** What is drawn over the screen; at most one at a time, so two dialogs cannot be open together. */
export type Overlay =
	| {readonly kind: 'help'; readonly scroll: number}
	| {readonly kind: 'details'; readonly title: string; readonly lines: readonly string[]; readonly scroll: number}
	| {readonly kind: 'take'; readonly form: TakeForm; readonly at: number | null}
	| {readonly kind: 'restore'; readonly form: RestoreForm; readonly at: number | null}
	| {readonly kind: 'backup'; readonly vm: string}
	| {readonly kind: 'filter'; readonly at: number | null}
	/**
	 * A job's plan waiting for an answer; `under` is what it covered (a dialog being filled in), shown
	 * again after. `seen`: the rows of the plan shown so far (it is accepted once each was on screen).
	 */
	| {
			readonly kind: 'confirm';
			readonly jobId: number;
			readonly scroll: number;
			readonly seen: readonly string[];
			readonly typed: string;
			readonly at: number | null;
			readonly under: Overlay | null;
	  }
	/** A change's plan being made: keys wait for it (none reaches the screen behind), Esc cancels the change. */
	| {readonly kind: 'planning'; readonly jobId: number; readonly title: string}
	| {readonly kind: 'quitting'; readonly phase: 'asked' | 'cancelling'};

export interface UiState {
	readonly screen: ScreenName;
	/** The VM the tree, the backup points or the journal are of (null: the journal of every VM). */
	readonly vm: string | null;
	/** The backup point the files screen browses. */
	readonly point: string | null;
	readonly cursors: Readonly<Partial<Record<ScreenName, Cursor>>>;
	readonly overlay: Overlay | null;
	readonly filter: string;
	readonly notice: string | null;
}

export type UiAction =
	| {
			readonly type: 'go';
			readonly screen: ScreenName;
			readonly vm?: string | null;
			readonly point?: string | null;
			readonly at?: 'first' | 'last' | 'keep';
	  }
	| {readonly type: 'select'; readonly screen: ScreenName; readonly keys: readonly string[]; readonly row: number}
	/**
	 * Holds the item a cursor is shown on when its own item is not among the rows (a first load, a
	 * filter that hides it, the item gone), so rows moving later leave it there. `replacing`: the key
	 * it held when this was asked (nothing changes if another key moved it meanwhile).
	 */
	| {
			readonly type: 'hold';
			readonly screen: ScreenName;
			readonly key: string;
			readonly index: number;
			readonly replacing: string | null;
	  }
	| {readonly type: 'open'; readonly overlay: Overlay}
	| {readonly type: 'update'; readonly overlay: Overlay}
	/** The VM's guest agent was asked: quiescing its snapshot is offered (null), or not and why; the take dialog keeps what was typed. */
	| {readonly type: 'quiesceChecked'; readonly vm: string; readonly unavailable: string | null}
	| {readonly type: 'close'}
	| {readonly type: 'confirm'; readonly jobId: number}
	/** The job's plan is made (shown, or the job ended without one): its wait is over, if it is still open. */
	| {readonly type: 'planned'; readonly jobId: number}
	| {readonly type: 'filter'; readonly text: string}
	| {readonly type: 'notice'; readonly text: string | null};

export const initialState: UiState = {
	screen: 'list',
	vm: null,
	point: null,
	cursors: {},
	overlay: null,
	filter: '',
	notice: null,
};

const clamp = (value: number, count: number) => Math.max(0, Math.min(value, count - 1));

/** The row a cursor is on among items with these keys: its item's row, else its row clamped. */
export function cursorRow(cursor: Cursor | undefined, keys: readonly string[]): number {
	if (!cursor) return 0;
	const found = cursor.key === null ? -1 : keys.indexOf(cursor.key);
	return found >= 0 ? found : clamp(cursor.index, keys.length);
}

/** A job's plan over what is open, to be answered. */
function withPlan(state: UiState, jobId: number): UiState {
	// Quitting has cancelled every job; a plan still arriving is declined by the caller, not shown.
	if (state.overlay?.kind === 'quitting') return state;
	const open = state.overlay;
	return {
		...state,
		overlay: {
			kind: 'confirm',
			jobId,
			scroll: 0,
			seen: [],
			typed: '',
			at: null,
			// What it covers is shown again after; a plan's wait is over once it is shown (it does not come back).
			under: open?.kind === 'confirm' ? open.under : open?.kind === 'planning' ? null : open,
		},
	};
}

/** The one reducer of the UI's state: every key and every job answer goes through it. */
export function reduce(state: UiState, action: UiAction): UiState {
	switch (action.type) {
		case 'go': {
			const placed: Cursor | undefined =
				action.at === 'keep'
					? state.cursors[action.screen]
					: {key: null, index: action.at === 'last' ? Number.MAX_SAFE_INTEGER : 0};
			return {
				...state,
				screen: action.screen,
				vm: action.vm === undefined ? state.vm : action.vm,
				point: action.point === undefined ? state.point : action.point,
				cursors: {...state.cursors, [action.screen]: placed},
				overlay: null,
			};
		}
		case 'select': {
			const row = clamp(action.row, action.keys.length);
			return {...state, cursors: {...state.cursors, [action.screen]: {key: action.keys[row] ?? null, index: row}}};
		}
		case 'hold': {
			const cursor = state.cursors[action.screen];
			if ((cursor?.key ?? null) !== action.replacing) return state;
			return {...state, cursors: {...state.cursors, [action.screen]: {key: action.key, index: action.index}}};
		}
		case 'open':
			return {...state, overlay: action.overlay};
		case 'update':
			return state.overlay?.kind === action.overlay.kind ? {...state, overlay: action.overlay} : state;
		case 'quiesceChecked': {
			if (state.overlay?.kind !== 'take' || state.overlay.form.vm !== action.vm) return state;
			const form = state.overlay.form;
			const offered = action.unavailable === null;
			return {
				...state,
				overlay: {
					...state.overlay,
					form: {
						...form,
						quiesceUnavailable: action.unavailable,
						quiesce: offered && form.quiesce,
						field: !offered && form.field === 'quiesce' ? 'name' : form.field,
					},
				},
			};
		}
		case 'close':
			return {...state, overlay: state.overlay?.kind === 'confirm' ? state.overlay.under : null};
		case 'planned':
			return state.overlay?.kind === 'planning' && state.overlay.jobId === action.jobId
				? {...state, overlay: null}
				: state;
		case 'confirm':
			return withPlan(state, action.jobId);
		// The cursor stays on its VM where the new filter shows it; where it hides it, on the first VM shown.
		case 'filter':
			return {
				...state,
				filter: action.text,
				cursors: {...state.cursors, list: {key: state.cursors.list?.key ?? null, index: 0}},
			};
		case 'notice':
			return state.notice === action.text ? state : {...state, notice: action.text};
	}
}
