/**
 * "Did you mean": the candidates nearest to a mistyped word, by optimal string alignment
 * distance (an edit is an insertion, a deletion, a substitution or two neighbours swapped, so
 * `lsit` is one edit from `list`). Close means at most one edit in a short word, two in a longer.
 */
export function nearest(word: string, candidates: readonly string[]): string[] {
	const limit = word.length <= 4 ? 1 : 2;
	const scored = candidates
		.map(candidate => ({candidate, distance: distance(word.toLowerCase(), candidate.toLowerCase())}))
		.filter(({candidate, distance}) => distance <= limit || (word.length >= 3 && candidate.startsWith(word)));
	return scored
		.sort((a, b) => a.distance - b.distance || a.candidate.localeCompare(b.candidate))
		.map(({candidate}) => candidate)
		.slice(0, 3);
}

/** ", did you mean 'list'?" (or "'a' or 'b'"), or '' when nothing is near. */
export function didYouMean(
	word: string,
	candidates: readonly string[],
	quote: (name: string) => string = name => `'${name}'`,
): string {
	const near = nearest(word, candidates);
	return near.length === 0 ? '' : `did you mean ${near.map(quote).join(' or ')}?`;
}

function distance(a: string, b: string): number {
	const rows = Array.from({length: a.length + 1}, (_, i) =>
		Array.from({length: b.length + 1}, (_, j) => (i === 0 ? j : j === 0 ? i : 0)),
	);
	for (let i = 1; i <= a.length; i++) {
		for (let j = 1; j <= b.length; j++) {
			const cost = a[i - 1] === b[j - 1] ? 0 : 1;
			let best = Math.min(rows[i - 1]![j]! + 1, rows[i]![j - 1]! + 1, rows[i - 1]![j - 1]! + cost);
			if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1])
				best = Math.min(best, rows[i - 2]![j - 2]! + 1);
			rows[i]![j] = best;
		}
	}
	return rows[a.length]![b.length]!;
}
