import {describe, expect, it} from 'vitest';
import {
	pagerLayout,
	pagerScroll,
	shownRows,
	unreadRows,
	type PagerLayout,
	type PagerRow,
} from '../../source/ui/pager.js';

/** `lines` lines of `parts` rows each (by line index), as wrapped text gives them. */
const rowsOf = (parts: readonly number[]): PagerRow[] =>
	parts.flatMap((count, line) =>
		Array.from({length: count}, (_, part) => ({text: `${line}.${part}`, line, part, parts: count})),
	);

/** Lines 3 and 5 are what is lost: pinned when the rows do not all fit, whole or as their summary. */
const pins = {select: (row: PagerRow) => row.line === 3 || row.line === 5, summary: ['lost: 3', 'lost: 5']};

/** The rows a layout draws: scrolled, the position line, pinned or summed up, the hint. */
const drawn = (layout: PagerLayout) =>
	layout.room + (layout.position ? 1 : 0) + layout.pinned.length + layout.summary.length + layout.hint;

/** What is lost in view in a layout, whole lines as their rows' texts, or summed up. */
const lostInView = (layout: PagerLayout) =>
	layout.position
		? [...layout.pinned.map(row => row.text), ...layout.summary]
		: layout.scrolling.filter(pins.select).map(row => row.text);

describe('the pager (plans, details, help)', () => {
	it('pages without skipping a row at any height and footer, pinned lines always in view', () => {
		const shapes = [
			[1],
			[3, 1, 1, 2, 1, 4, 1, 1, 3, 1, 1],
			[2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2],
			Array.from({length: 40}, (_, index) => 1 + (index % 3)),
		];
		for (const shape of shapes) {
			const rows = rowsOf(shape);
			const lost = rows.filter(pins.select).map(row => row.text);
			for (let height = 3; height <= 60; height++) {
				for (let footer = 0; footer <= Math.min(4, height - 1); footer++)
					for (const hint of [0, 2]) {
						const why = `${shape.length} lines in ${height} rows, footer ${footer}, hint ${hint}`;
						const seen = new Set<string>();
						let layout = pagerLayout(rows, height, footer, 0, pins, hint);
						for (let pages = 0; ; pages++) {
							expect(drawn(layout), why).toBeLessThanOrEqual(Math.max(2, height - footer));
							for (const key of shownRows(layout)) seen.add(key);
							// Pinned: every row of what is lost, or else its summary and no part of a line.
							if (layout.position && layout.pinned.length > 0)
								expect(
									layout.pinned.map(row => row.text),
									why,
								).toEqual(lost);
							if (layout.summary.length > 0) expect(layout.pinned, why).toEqual([]);
							// From five rows on (two to scroll, the position line, two summary rows), all of what is lost is in view.
							if (layout.position && height - footer >= 5 && lost.length > 0)
								expect([lost, pins.summary], why).toContainEqual(lostInView(layout));
							const next = pagerScroll('pageDown', layout)!;
							if (next === layout.start) break;
							// The next page starts right after the last row shown, or shows the last rows: never past one unseen.
							expect(next).toBeLessThanOrEqual(layout.start + layout.room);
							layout = pagerLayout(rows, height, footer, next, pins, hint);
							expect(pages).toBeLessThan(200);
						}
						expect(unreadRows(rows, seen), why).toBe(0);
					}
			}
		}
	});

	it('pins what is lost whole when it all fits and leaves two rows to scroll, else its summary: never part of it', () => {
		const rows = rowsOf([1, 1, 1, 3, 1, 2, 1]);
		expect(pagerLayout(rows, 12, 2, 0, pins)).toMatchObject({pinned: [], summary: [], position: false, room: 10});
		const tight = pagerLayout(rows, 9, 1, 0, pins);
		expect(tight.pinned.map(row => row.text)).toEqual(['3.0', '3.1', '3.2', '5.0', '5.1']);
		expect(tight).toMatchObject({summary: [], room: 2});
		// Line 3 would fit, line 5 not: both summed up, both scroll with the rest (and must be read there).
		const tighter = pagerLayout(rows, 7, 1, 0, pins);
		expect(tighter).toMatchObject({pinned: [], summary: ['lost: 3', 'lost: 5'], position: true, room: 3});
		expect(tighter.scrolling).toEqual(rows);
		// A summary row is not a row of the plan: showing it reads nothing.
		expect(shownRows(tighter)).toEqual(['0:0/1', '1:0/1', '2:0/1']);
		// Without room for both summaries and two rows to scroll, as many as fit.
		expect(pagerLayout(rows, 5, 1, 0, pins).summary).toEqual(['lost: 3']);
	});

	it('gives a hint (a note) only the rows left: never a pinned row, nor the last row that scrolls', () => {
		const rows = rowsOf([2, 1, 1, 4, 1, 2, 1, 3, 1]);
		for (let height = 3; height <= 20; height++)
			for (let hint = 0; hint <= 3; hint++) {
				const bare = pagerLayout(rows, height, 1, 0, pins);
				const hinted = pagerLayout(rows, height, 1, 0, pins, hint);
				const why = `${height} rows, a hint of ${hint}`;
				// What is lost that stays in view without the hint (pinned, summed up, or all rows shown) stays with it.
				expect(lostInView(hinted), why).toEqual(expect.arrayContaining(lostInView(bare)));
				expect(hinted.room, why).toBeGreaterThanOrEqual(Math.min(1, rows.length));
				expect(hinted.hint, why).toBeLessThanOrEqual(hint);
				expect(drawn(hinted), why).toBeLessThanOrEqual(Math.max(2, height - 1));
			}
		// 40x12's pager (ten rows, a prompt of one): the note takes a row that scrolled, the pins stay.
		const tight = pagerLayout(rows, 10, 1, 0, pins, 1);
		expect(tight).toMatchObject({room: 1, position: true, hint: 1});
		expect(tight.pinned.map(row => row.line)).toEqual([3, 3, 3, 3, 5, 5]);
		expect(pagerLayout(rows, 10, 1, 0, pins, 2)).toMatchObject({room: 1, hint: 1});
		// Summed up, the same: the note takes a row that scrolled, never a summary's.
		const summed = pagerLayout(rows, 9, 1, 0, pins, 2);
		expect(summed).toMatchObject({summary: ['lost: 3', 'lost: 5'], room: 3, hint: 2});
	});
});
