import {useEffect, useState} from 'react';

const clamp = (value: number, count: number) => Math.max(0, Math.min(value, count - 1));

/**
 * A cursor that follows an item, not a row: a refresh that adds or removes rows above it, or
 * reorders them, leaves it on the same item (VM, snapshot, point, finding), so the next key acts on
 * what the operator chose. The row number places it when that item is gone (deleted, filtered out).
 */
export function useIdentityCursor<T>(items: readonly T[], keyOf: (item: T) => string) {
	const [selection, setSelection] = useState<{key: string | null; index: number}>({key: null, index: 0});
	const found = selection.key === null ? -1 : items.findIndex(item => keyOf(item) === selection.key);
	const index = found >= 0 ? found : clamp(selection.index, items.length);
	const current = items[index];
	// It holds the item it first lands on, too (a first load, a new filter, a reset).
	useEffect(() => {
		if (selection.key === null && current !== undefined) setSelection({key: keyOf(current), index});
	}, [selection.key, current, index]);
	return {
		index,
		current,
		/** Moves to row `row` (clamped) and holds the item there. */
		select: (row: number) => {
			const next = clamp(row, items.length);
			setSelection({key: items[next] === undefined ? null : keyOf(items[next]), index: next});
		},
		/** Back to the first row, holding whatever item comes to be there. */
		reset: () => setSelection({key: null, index: 0}),
	};
}
