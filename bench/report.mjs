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

/**
 * Waits until the QEMU processes `pids` have stopped booting: a guest without an OS runs SeaBIOS
 * under TCG for a few seconds after it starts, taking a core of this 2-core machine, and a take
 * measured then measures that contention (seen: the same snapdeck take 230-543 ms in the first
 * seconds, 219-287 ms after). Settled: under 5% of a core each over half a second; at most 30 s.
 */
export async function settled(pids) {
	const {readFileSync} = await import('node:fs');
	const cpu = pid => readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ').slice(11, 13).reduce((sum, field) => sum + Number(field), 0);
	const tick = 100; // USER_HZ on Linux
	for (const deadline = Date.now() + 30_000; Date.now() < deadline;) {
		const before = pids.map(cpu);
		await new Promise(resolve => setTimeout(resolve, 500));
		if (pids.every((pid, index) => (cpu(pid) - before[index]) / tick < 0.025)) return;
	}
	console.log(`(the QEMU processes ${pids.join(', ')} were still busy after 30 s; measuring anyway)`);
}
