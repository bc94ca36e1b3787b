#!/usr/bin/env node
// Taking an external snapshot of a running local VM (issue 15): `snapdeck snapshot VM NAME --yes`
// against a script doing the bare minimum the same way (a Node process that asks for the disk
// and its top node from QMP and sends one `transaction` of `blockdev-snapshot-sync`), paired and
// interleaved, medians of the pairs' ratios. Usage: npm run build && node bench/local-take.mjs [PAIRS]
// BENCH_UNSYNCED=1 adds a third arm: snapdeck with every fsync made a no-op (Debian's eatmydata),
// the most that grouping the job's fsyncs could ever save (issue 29).
import {execFileSync, spawnSync} from 'node:child_process';
import {mkdtempSync, rmSync, writeFileSync} from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {report, settled} from './report.mjs';

const PAIRS = Number(process.argv[2] ?? 7);
const BIN = path.resolve('bin/snapdeck');
const median = values => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
const root = mkdtempSync(path.join(os.tmpdir(), 'snapdeck-bench-take-'));
const lab = path.join(root, 'lab');
const connect = ['--connect', `local:${lab}`];
// The baseline: what a script would do by hand, on a second VM with the same disk.
const script = path.resolve('bench/qmp-take.cjs');
const timed = (command, args) => {
	const at = performance.now();
	const run = spawnSync(command, args, {encoding: 'utf8'});
	if (run.status !== 0) throw new Error(`${command} ${args.join(' ')}: ${run.stderr}`);
	return performance.now() - at;
};

try {
	execFileSync(BIN, ['demo', '--dir', lab], {stdio: 'ignore'});
	// The demo's running VM for snapdeck, and a twin for the script (its snapshots would change the chain behind snapdeck's back).
	const vm = 'live1';
	const twin = 'live2';
	const live = JSON.parse(execFileSync('cat', [path.join(lab, vm, 'vm.json')], {encoding: 'utf8'}));
	execFileSync('mkdir', [path.join(lab, twin)]);
	execFileSync('qemu-img', ['create', '-q', '-f', 'qcow2', path.join(lab, twin, 'vda.qcow2'), '256M']);
	writeFileSync(
		path.join(lab, twin, 'vm.json'),
		JSON.stringify({...live, name: twin, disks: [{target: 'vda', file: 'vda.qcow2'}], snapshots: [], current: null}),
	);
	execFileSync(BIN, ['start', twin, ...connect], {stdio: 'ignore'});
	await settled(
		[vm, twin].map(name =>
			Number(execFileSync('cat', [path.join(lab, name, '.snapdeck', 'qemu.pid')], {encoding: 'utf8'}).trim()),
		),
	);
	const [ours, theirs, unsynced] = [[], [], []];
	const withoutSync = process.env['BENCH_UNSYNCED'] === '1';
	const qmpOf = name =>
		path.join(lab, name, JSON.parse(execFileSync('cat', [path.join(lab, name, 'vm.json')], {encoding: 'utf8'})).qmp);
	for (let pair = 0; pair < PAIRS; pair++) {
		ours.push(timed(BIN, ['snapshot', vm, `bench-${pair}`, '--yes', ...connect]));
		theirs.push(timed('node', [script, qmpOf(twin), path.join(lab, twin, `bench-script-${pair}.qcow2`)]));
		if (withoutSync)
			unsynced.push(timed('eatmydata', [BIN, 'snapshot', vm, `bench-nosync-${pair}`, '--yes', ...connect]));
	}
	if (withoutSync) {
		const share = median(unsynced.map((value, index) => value / ours[index]));
		console.log(
			`the same without fsync (eatmydata): ${median(unsynced).toFixed(0)} ms, ${share.toFixed(2)}x of the take's time; ${median(unsynced.map((value, index) => value / theirs[index])).toFixed(2)}x the script`,
		);
	}
	const ratio = median(ours.map((value, index) => value / theirs[index]));
	console.log(
		`take, running local VM: ${median(ours).toFixed(0)} ms; a script's QMP transaction: ${median(theirs).toFixed(0)} ms; median of ${PAIRS} paired ratios ${ratio.toFixed(2)}x`,
	);
	report({
		name: 'take, running local VM (`snapdeck snapshot --yes`)',
		figure: `${median(ours).toFixed(0)} ms`,
		baseline: `a Node script's QMP transaction (blockdev-snapshot-sync): ${median(theirs).toFixed(0)} ms`,
		ratio: `${ratio.toFixed(2)}x`,
		target: 'at most 1.5x',
		met: ratio <= 1.5,
	});
} finally {
	spawnSync(BIN, ['stop', '--all', ...connect], {stdio: 'ignore'});
	rmSync(root, {recursive: true, force: true});
}
