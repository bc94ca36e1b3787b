// Shared by the benchmarks: each result goes to stdout and, when bench/all.mjs runs them, to the
// file named by BENCH_RESULTS (one JSON line each), from which it writes the table in BENCHMARKS.md.
import {appendFileSync} from 'node:fs';

/**
 * One figure against its same-run baseline. `target` says what issue 8 or 15 asks, `met` whether this
 * run meets it (null where there is no target).
 */
export function report({name, figure, baseline, ratio, target = '', met = null}) {
	if (process.env.BENCH_RESULTS) appendFileSync(process.env.BENCH_RESULTS, `${JSON.stringify({name, figure, baseline, ratio, target, met})}\n`);
}
