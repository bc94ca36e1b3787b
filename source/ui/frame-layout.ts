import {MIN_COLUMNS, MIN_ROWS} from './components/too-small.js';
import type {Jobs} from './hooks/use-jobs.js';
import {displayKey, type Keymap} from './keymap.js';
import {fit, wrapWhole} from './layout.js';
import {messageCap, messageRows, type MessageEntry} from './messages.js';
import {overlayStatus, pagerOf} from './overlays/overlay-registry.js';
import {pagerGeometry} from './pager.js';
import type {UiState} from './state.js';

/** Rows the body keeps at least (the list's heading and three VMs) while a note or messages are shown. */
const MIN_BODY = 4;

/**
 * How the frame's rows are shared below the header: the messages (bounded, messages.ts), the
 * status line (a note wraps whole, on as many rows as the body can spare), the help bar, and the
 * body, which gets the rest, exactly.
 */
function shareRows(entries: readonly MessageEntry[], status: string, columns: number, rows: number, jobsKey: string) {
	const messageLines = messageRows(entries, columns, messageCap(rows), jobsKey);
	const spare = Math.max(1, rows - 2 - MIN_BODY - messageLines.length);
	const wrapped = wrapWhole(status, columns, 2);
	const statusLines =
		wrapped.length <= spare
			? wrapped
			: [...wrapped.slice(0, spare - 1), fit(wrapped.slice(spare - 1).join(' '), columns)];
	return {messageLines, statusLines, bodyHeight: Math.max(3, rows - 2 - messageLines.length - statusLines.length)};
}

export interface FrameInput {
	readonly state: UiState;
	readonly jobs: Jobs;
	readonly keymap: Keymap;
	/** How many jobs still run (the quit question counts them). */
	readonly running: number;
	readonly messages: readonly MessageEntry[];
	readonly columns: number;
	readonly terminalRows: number;
}

/** The app's frame in this terminal: its rows, what the status line says, the height of the body, where a pager goes. */
export function arrangeFrame({state, jobs, keymap, running, messages, columns, terminalRows}: FrameInput) {
	// One row short of the terminal: output as tall as the terminal makes Ink clear and repaint the
	// whole screen on every frame (measured: ~700 bytes a progress update instead of one line's worth).
	const rows = Math.max(3, terminalRows - 1);
	// The open overlay's own line (the filter being typed, the quit question), else the note, else the filter kept.
	const said = overlayStatus(state.overlay, {filter: state.filter, running, keymap});
	const status = said?.text ?? state.notice ?? (state.filter ? `filter: ${state.filter}` : ' ');
	// The jobs screen lists every job: the messages would say it twice.
	const {messageLines, statusLines, bodyHeight} = shareRows(
		state.screen === 'jobs' ? [] : messages,
		status,
		columns,
		rows,
		displayKey(keymap.keys.jobs[0] ?? ''),
	);
	// A pager (a plan, a detail view, the help) in a small terminal covers all of it but the keys,
	// and, but for a plan (a decision, all its rows its own), the jobs' messages.
	const pagerKind = pagerOf(state.overlay, jobs);
	const geometry = pagerGeometry(
		columns,
		terminalRows,
		bodyHeight,
		rows - 1 - (pagerKind === 'plan' ? 0 : messageLines.length),
	);
	return {
		columns,
		rows,
		terminalRows,
		tooSmall: columns < MIN_COLUMNS || terminalRows < MIN_ROWS,
		messageLines,
		statusLines,
		statusWarns: Boolean(said?.warn || state.notice),
		bodyHeight,
		pagerKind,
		geometry,
		pagerCovers: pagerKind !== null && geometry.fullScreen,
	};
}

export type Frame = ReturnType<typeof arrangeFrame>;
