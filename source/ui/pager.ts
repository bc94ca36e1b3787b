import type {Command} from './keymap.js';
import {fit} from './layout.js';

/**
 * One row of a pager: part `part` of `parts` of line `line` of what it shows, wrapped to its width
 * (so a row's key names it whatever the width, and a line is read when each of its rows was shown).
 */
export interface PagerRow {
	readonly text: string;
	readonly line: number;
	readonly part: number;
	readonly parts: number;
	readonly tone?: 'heading' | 'loses';
}

/**
 * What a pager `height` rows tall shows: the rows that scroll, from `start`, `room` of them, the
 * position line, the pinned rows (whole lines) or in their stead the `summary` rows (one row for
 * each kind of pinned line, which stand for them and are not read by being shown), then `hint`
 * rows of its hint (a note, which yields to them).
 */
export interface PagerLayout {
	readonly scrolling: readonly PagerRow[];
	readonly start: number;
	readonly room: number;
	readonly position: boolean;
	readonly pinned: readonly PagerRow[];
	readonly summary: readonly string[];
	readonly hint: number;
}

/**
 * What a pager keeps in view when it must scroll: the lines `select` picks, whole; or, when they
 * do not all fit whole, `summary` (rows of one row each that say what those lines are), while the
 * lines themselves scroll with the rest and must be read there.
 */
export interface PagerPins {
	readonly select: (row: PagerRow) => boolean;
	readonly summary: readonly string[];
}

/** Below this size a pager (a plan, a detail view, the help) takes the whole terminal but the keys: no header, messages, status line or border. */
export const FULL_SCREEN_BELOW = {columns: 80, rows: 24} as const;

/** Where a pager is drawn: its rows and columns inside, and whether it covers the whole terminal. */
export interface PagerGeometry {
	readonly fullScreen: boolean;
	readonly width: number;
	readonly height: number;
}

/**
 * `bodyHeight`: the rows of the app's body, between the header and the messages; `fullHeight`:
 * the rows a pager covering the terminal gets (the frame less the help bar, and less the messages
 * where they stay in view). Boxed in the body, the border and its padding take two rows and four columns.
 */
export function pagerGeometry(
	columns: number,
	terminalRows: number,
	bodyHeight: number,
	fullHeight: number,
): PagerGeometry {
	const fullScreen = columns < FULL_SCREEN_BELOW.columns || terminalRows < FULL_SCREEN_BELOW.rows;
	return fullScreen
		? {fullScreen, width: columns, height: fullHeight}
		: {fullScreen, width: columns - 4, height: bodyHeight - 2};
}

/** Scrolled rows never fewer than this, however many lines ask to be pinned. */
const MIN_ROOM = 2;

/**
 * What is pinned in `budget` rows: every line `pins` selects, whole, when they all fit; else its
 * summary rows (as many as fit), and no line at all: a line is never pinned in part, nor some
 * lines of what is lost while the rest scroll out of view unannounced.
 */
function pinnedOf(rows: readonly PagerRow[], budget: number, pins: PagerPins | undefined) {
	const lines = new Set(rows.filter(row => pins?.select(row)).map(row => row.line));
	const selected = rows.filter(row => lines.has(row.line));
	if (selected.length <= Math.max(0, budget))
		return {lines, pinned: selected, summary: [] as string[], summarized: false};
	const summary = (pins?.summary ?? []).slice(0, Math.max(0, budget));
	return {lines: new Set<number>(), pinned: [], summary, summarized: true};
}

/**
 * Lays `rows` out in `height` rows, `footer` of which are the pager's own (a question). When they
 * do not all fit, what `pins` selects stays in view whatever the scroll below the scrolling rows
 * (pinnedOf: the lines whole, or their summary, in what leaves MIN_ROOM rows to scroll), and a
 * position line of one row goes between. A hint of `hint` rows (a note) gets what is left: it
 * never takes a pinned row, nor the last row that scrolls, so it may get fewer rows than it asks,
 * or none. The same layout draws the pager and moves it, so a page is exactly the rows shown:
 * paging never skips one.
 */
export function pagerLayout(
	rows: readonly PagerRow[],
	height: number,
	footer: number,
	scroll: number,
	pins?: PagerPins,
	hint = 0,
): PagerLayout {
	const available = Math.max(1, height - footer);
	const whole = {scrolling: rows, start: 0, room: rows.length, position: false, pinned: [], summary: []};
	if (rows.length + hint <= available) return {...whole, hint};
	// What is pinned does not depend on the hint: a note never unpins what is lost.
	const {lines, pinned, summary, summarized} = pinnedOf(rows, available - 1 - MIN_ROOM, pins);
	// The rows fit but for the hint: rather than scroll a line to pin out of view, the hint gets less.
	if (rows.length <= available && summarized) return {...whole, hint: available - rows.length};
	const scrolling = rows.filter(row => !lines.has(row.line));
	const space = Math.max(1, available - pinned.length - summary.length - 1);
	const given = Math.min(hint, space - 1);
	const room = space - given;
	return {
		scrolling,
		start: Math.max(0, Math.min(scroll, scrolling.length - room)),
		room,
		position: true,
		pinned,
		summary,
		hint: given,
	};
}

/** The first scrolled row after a movement command (a page: the rows shown, none skipped); null when `command` does not move. */
export function pagerScroll(command: Command | undefined, layout: PagerLayout): number | null {
	const {start, room, scrolling} = layout;
	const last = Math.max(0, scrolling.length - room);
	const target =
		command === 'up'
			? start - 1
			: command === 'down'
				? start + 1
				: command === 'pageUp'
					? start - room
					: command === 'pageDown'
						? start + room
						: command === 'top'
							? 0
							: command === 'bottom'
								? last
								: null;
	return target === null ? null : Math.max(0, Math.min(last, target));
}

const rowKey = (row: PagerRow) => `${row.line}:${row.part}/${row.parts}`;

/** The keys of the rows on screen in this layout (scrolled into view, and pinned; a summary row stands for no row). */
export const shownRows = (layout: PagerLayout): string[] =>
	[...layout.scrolling.slice(layout.start, layout.start + layout.room), ...layout.pinned].map(rowKey);

/**
 * How many rows were never shown (`seen`: the keys of the rows shown so far): counted in rows, as
 * the position line counts ("lines 1-4 of 15, 11 unread"), not in the lines they wrap.
 */
export function unreadRows(rows: readonly PagerRow[], seen: ReadonlySet<string>): number {
	return rows.filter(row => !seen.has(rowKey(row))).length;
}

/** The position line, one row however narrow: where the view is, what is left unread, and the keys to scroll when they fit. */
export function positionText(layout: PagerLayout, unread: number, keys: string, width: number): string {
	const where = `lines ${layout.start + 1}-${layout.start + layout.room} of ${layout.scrolling.length}${unread > 0 ? `, ${unread} unread` : ''}`;
	const full = `${where}: ${keys} scroll`;
	return [...full].length <= width ? full : fit(where, width).trimEnd();
}
