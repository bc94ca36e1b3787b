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
 * position line, the pinned rows, then `hint` rows of its hint (a note, which yields to them).
 */
export interface PagerLayout {
	readonly scrolling: readonly PagerRow[];
	readonly start: number;
	readonly room: number;
	readonly position: boolean;
	readonly pinned: readonly PagerRow[];
	readonly hint: number;
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

/** The lines `pin` selects, whole, in the order they come, as many as fit in `budget` rows. */
function pinnedLines(rows: readonly PagerRow[], budget: number, pin: (row: PagerRow) => boolean): Set<number> {
	const lines = new Set<number>();
	for (const line of new Set(rows.filter(pin).map(row => row.line))) {
		const size = rows.filter(row => row.line === line).length;
		if (size > budget) break;
		lines.add(line);
		budget -= size;
	}
	return lines;
}

/**
 * Lays `rows` out in `height` rows, `footer` of which are the pager's own (a question). When they
 * do not all fit, the lines `pin` selects are taken out of the scrolling rows and kept whole below
 * them, in view whatever the scroll (as many as leave MIN_ROOM rows to scroll), and a position line
 * of one row goes between. A hint of `hint` rows (a note) gets what is left: it never takes a row
 * from a pinned line, nor the last row that scrolls, so it may get fewer rows than it asks, or
 * none. The same layout draws the pager and moves it, so a page is exactly the rows shown: paging
 * never skips one.
 */
export function pagerLayout(
	rows: readonly PagerRow[],
	height: number,
	footer: number,
	scroll: number,
	pin: (row: PagerRow) => boolean = () => false,
	hint = 0,
): PagerLayout {
	const available = Math.max(1, height - footer);
	const whole = {scrolling: rows, start: 0, room: rows.length, position: false, pinned: []};
	if (rows.length + hint <= available) return {...whole, hint};
	// Which lines are pinned does not depend on the hint: a note never unpins what is lost.
	const kept = pinnedLines(rows, available - 1 - MIN_ROOM, pin);
	const pinned = rows.filter(row => kept.has(row.line));
	// The rows fit but for the hint: scrolling to make room for it must not push a line to pin out of view.
	if (rows.length <= available && rows.some(row => pin(row) && !kept.has(row.line)))
		return {...whole, hint: available - rows.length};
	const scrolling = rows.filter(row => !kept.has(row.line));
	const space = Math.max(1, available - pinned.length - 1);
	const given = Math.min(hint, space - 1);
	const room = space - given;
	return {
		scrolling,
		start: Math.max(0, Math.min(scroll, scrolling.length - room)),
		room,
		position: true,
		pinned,
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

/** The keys of the rows on screen in this layout (scrolled into view, and pinned). */
export const shownRows = (layout: PagerLayout): string[] =>
	[...layout.scrolling.slice(layout.start, layout.start + layout.room), ...layout.pinned].map(rowKey);

/** How many lines have a row never shown (`seen`: the keys of the rows shown so far). */
export function unreadLines(rows: readonly PagerRow[], seen: ReadonlySet<string>): number {
	return new Set(rows.filter(row => !seen.has(rowKey(row))).map(row => row.line)).size;
}

/** The position line, one row however narrow: where the view is, what is left unread, and the keys to scroll when they fit. */
export function positionText(layout: PagerLayout, unread: number, keys: string, width: number): string {
	const where = `lines ${layout.start + 1}-${layout.start + layout.room} of ${layout.scrolling.length}${unread > 0 ? `, ${unread} unread` : ''}`;
	const full = `${where}: ${keys} scroll`;
	return [...full].length <= width ? full : fit(where, width).trimEnd();
}
