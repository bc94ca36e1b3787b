// Shared by the benchmarks: each result goes to stdout and, when bench/all.mjs runs them, to the
// file named by BENCH_RESULTS (one JSON line each), from which it writes the table in BENCHMARKS.md.
import {execFileSync} from 'node:child_process';
import {appendFileSync, readFileSync} from 'node:fs';

/**
 * One figure against its same-run baseline. `target` says what issue 8 or 15 asks, `met` whether this
 * run meets it (null where there is no target).
 */
export function report({name, figure, baseline, ratio, target = '', met = null}) {
	if (process.env.BENCH_RESULTS)
		appendFileSync(process.env.BENCH_RESULTS, `${JSON.stringify({name, figure, baseline, ratio, target, met})}\n`);
}

const ticksPerSecond = Number(execFileSync('getconf', ['CLK_TCK'], {encoding: 'utf8'}).trim());

/** CPU seconds (user and system) a process or thread has used, from its /proc stat file (`/proc/PID/stat`, `/proc/PID/task/TID/stat`). */
export function cpuSeconds(statFile) {
	const stat = readFileSync(statFile, 'utf8');
	const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
	return (Number(fields[11]) + Number(fields[12])) / ticksPerSecond;
}

/**
 * Waits until the QEMU processes `pids` have stopped booting: a guest without an OS runs SeaBIOS
 * under TCG for a few seconds after it starts, taking a core of this 2-core machine, and a take
 * measured then measures that contention (seen: the same snapdeck take 230-543 ms in the first
 * seconds, 219-287 ms after). Settled: under 5% of a core each over half a second; at most 30 s.
 */
export async function settled(pids) {
	const cpu = pid => cpuSeconds(`/proc/${pid}/stat`);
	for (const deadline = Date.now() + 30_000; Date.now() < deadline;) {
		const before = pids.map(cpu);
		await new Promise(resolve => setTimeout(resolve, 500));
		if (pids.every((pid, index) => cpu(pid) - before[index] < 0.025)) return;
	}
	console.log(`(the QEMU processes ${pids.join(', ')} were still busy after 30 s; measuring anyway)`);
}

/**
 * Runs `cleanup` (stop and undefine a bench's domains, remove its folder) also when the bench is
 * interrupted (Ctrl-C, SIGTERM, a hang-up): a `finally` alone never runs then, and the twin domains
 * kept running. Returns a function that runs it once in the normal way (from a `finally`).
 */
export function cleanupOnSignals(cleanup) {
	let done = false;
	const once = () => {
		if (done) return;
		done = true;
		cleanup();
	};
	for (const [signal, code] of [
		['SIGINT', 130],
		['SIGTERM', 143],
		['SIGHUP', 129],
	]) {
		process.once(signal, () => {
			console.error(`\n${signal}: stopping the bench's domains and removing its files`);
			once();
			process.exit(code);
		});
	}
	return once;
}
