#!/usr/bin/env node
// What a command costs before its own work (issue 29): the same commands started from the bundle
// (`node bin/snapdeck.js`) and from the startup snapshot (`bin/snapdeck`, dist/snapshot/), against
// an empty `node -e 0`; interleaved, medians. The commands do almost nothing themselves (a lab with
// no VM), so what is left is start: loading and initialising the code.
// Usage: npm run build && node bench/startup.mjs [ROUNDS]
import {spawnSync} from 'node:child_process';
import {mkdtempSync, rmSync} from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {report} from './report.mjs';

const ROUNDS = Number(process.argv[2] ?? 15);
const lab = mkdtempSync(path.join(os.tmpdir(), 'snapdeck-bench-start-'));
const median = values => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
const timed = (command, args) => {
	const at = performance.now();
	const run = spawnSync(command, args, {
		encoding: 'utf8',
		env: {...process.env, NO_COLOR: '1'},
		stdio: ['ignore', 'pipe', 'pipe'],
	});
	if (run.status !== 0) throw new Error(`${command} ${args.join(' ')} failed (${run.status}): ${run.stderr}`);
	return performance.now() - at;
};
const commands = {
	'--version': ['--version'],
	'list, empty lab': ['list', '--connect', `local:${lab}`],
	'health --json, empty lab': ['health', '--json', '--connect', `local:${lab}`],
};

try {
	const floor = [];
	const times = Object.fromEntries(Object.keys(commands).map(name => [name, {bundle: [], snapshot: []}]));
	for (let round = 0; round < ROUNDS; round++) {
		floor.push(timed(process.execPath, ['-e', '0']));
		for (const [name, args] of Object.entries(commands)) {
			times[name].bundle.push(timed(process.execPath, ['bin/snapdeck.js', ...args]));
			times[name].snapshot.push(timed('bin/snapdeck', args));
		}
	}
	const zero = median(floor);
	console.log(`node -e 0: ${zero.toFixed(0)} ms (median of ${ROUNDS})`);
	for (const [name, {bundle, snapshot}] of Object.entries(times)) {
		const [b, s] = [median(bundle), median(snapshot)];
		console.log(
			`${name}: bundle ${b.toFixed(0)} ms (${(b / zero).toFixed(2)}x), snapshot ${s.toFixed(0)} ms (${(s / zero).toFixed(2)}x); over node -e 0: ${(b - zero).toFixed(0)} -> ${(s - zero).toFixed(0)} ms`,
		);
		report({
			name: `start: ${name}`,
			figure: `snapshot ${s.toFixed(0)} ms, bundle ${b.toFixed(0)} ms`,
			baseline: `node -e 0: ${zero.toFixed(0)} ms`,
			ratio: `${(s / zero).toFixed(2)}x (bundle ${(b / zero).toFixed(2)}x)`,
		});
	}
} finally {
	rmSync(lab, {recursive: true, force: true});
}
