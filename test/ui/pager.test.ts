import {describe, expect, it} from 'vitest';
import {pagerLayout, pagerScroll, shownRows, unreadLines, type PagerRow} from '../../source/ui/pager.js';

/** `lines` lines of `parts` rows each (by line index), as wrapped text gives them. */
const rowsOf = (parts: readonly number[]): PagerRow[] =>
	parts.flatMap((count, line) =>
		Array.from({length: count}, (_, part) => ({text: `${line}.${part}`, line, part, parts: count})),
	);

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
			// Lines 3 and 5 are what is lost: pinned when the rows do not all fit.
			const pin = (row: PagerRow) => row.line === 3 || row.line === 5;
			for (let height = 3; height <= 60; height++) {
				for (let footer = 0; footer <= Math.min(4, height - 1); footer++)
					for (const hint of [0, 2]) {
						const seen = new Set<string>();
						let layout = pagerLayout(rows, height, footer, 0, pin, hint);
						for (let pages = 0; ; pages++) {
							const shown = shownRows(layout);
							const drawn = layout.room + layout.pinned.length + (layout.position ? 1 : 0) + layout.hint;
							expect(drawn, `${shape.length} lines in ${height} rows, footer ${footer}`).toBeLessThanOrEqual(
								Math.max(2, height - footer),
							);
							for (const key of shown) seen.add(key);
							if (layout.pinned.length > 0)
								expect(layout.pinned.map(row => row.line)).toEqual(expect.arrayContaining([3]));
							const next = pagerScroll('pageDown', layout)!;
							if (next === layout.start) break;
							// The next page starts right after the last row shown, or shows the last rows: never past one unseen.
							expect(next).toBeLessThanOrEqual(layout.start + layout.room);
							layout = pagerLayout(rows, height, footer, next, pin, hint);
							expect(pages).toBeLessThan(200);
						}
						expect(unreadLines(rows, seen), `${shape.length} lines in ${height} rows, footer ${footer}`).toBe(0);
					}
			}
		}
	});

	it('pins what is lost only when the rows do not all fit, and keeps at least two rows to scroll', () => {
		const rows = rowsOf([1, 1, 1, 3, 1, 2, 1]);
		const pin = (row: PagerRow) => row.line === 3 || row.line === 5;
		expect(pagerLayout(rows, 12, 2, 0, pin)).toMatchObject({pinned: [], position: false, room: 10});
		const tight = pagerLayout(rows, 9, 1, 0, pin);
		expect(tight.pinned.map(row => row.text)).toEqual(['3.0', '3.1', '3.2', '5.0', '5.1']);
		expect(tight.room).toBe(2);
		// No room for the second: line 5 scrolls with the rest (and must still be read).
		const tighter = pagerLayout(rows, 7, 1, 0, pin);
		expect(tighter.pinned.map(row => row.line)).toEqual([3, 3, 3]);
		expect(tighter.scrolling.some(row => row.line === 5)).toBe(true);
	});

	it('gives a hint (a note) only the rows left: never a pinned row, nor the last row that scrolls', () => {
		const rows = rowsOf([2, 1, 1, 4, 1, 2, 1, 3, 1]);
		const pin = (row: PagerRow) => row.line === 3 || row.line === 5;
		for (let height = 3; height <= 20; height++)
			for (let hint = 0; hint <= 3; hint++) {
				const bare = pagerLayout(rows, height, 1, 0, pin);
				const hinted = pagerLayout(rows, height, 1, 0, pin, hint);
				const why = `${height} rows, a hint of ${hint}`;
				// What is lost that stays in view without the hint (pinned, or all rows shown) stays with it.
				const lost = (layout: typeof bare) =>
					(layout.position ? layout.pinned : layout.scrolling).filter(pin).map(row => row.text);
				expect(lost(hinted), why).toEqual(expect.arrayContaining(lost(bare)));
				expect(hinted.room, why).toBeGreaterThanOrEqual(Math.min(1, rows.length));
				expect(hinted.hint, why).toBeLessThanOrEqual(hint);
				const drawn = hinted.room + hinted.pinned.length + (hinted.position ? 1 : 0) + hinted.hint;
				expect(drawn, why).toBeLessThanOrEqual(Math.max(2, height - 1));
			}
		// 40x12's pager (ten rows, a prompt of one): the note takes a row that scrolled, the pins stay.
		const tight = pagerLayout(rows, 10, 1, 0, pin, 1);
		expect(tight).toMatchObject({room: 1, position: true, hint: 1});
		expect(tight.pinned.map(row => row.line)).toEqual([3, 3, 3, 3, 5, 5]);
		expect(pagerLayout(rows, 10, 1, 0, pin, 2)).toMatchObject({room: 1, hint: 1});
	});
});
