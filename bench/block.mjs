#!/usr/bin/env node
// Throughput of snapdeck's block work, each against the bare QEMU tool doing the same in the same
// run: a full backup against `qemu-img convert` of the same disk, an incremental with 1% of the
// disk changed against that full, and a merge against `qemu-img commit` of an identical chain.
// Each figure is the median of several runs. Usage: npm run build && node bench/block.mjs [--quick]
import {execFileSync} from 'node:child_process';
import {createHash} from 'node:crypto';
import {mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync} from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {report} from './report.mjs';

const BIN = path.resolve('bin/snapdeck');
const quick = process.argv.includes('--quick');
const SIZE_MIB = quick ? 64 : 1024;
const RUNS = quick ? 1 : 3;
const MiB = 1024 * 1024;

const run = (command, args, env = {}) =>
	execFileSync(command, args, {env: {...process.env, ...env}, stdio: ['ignore', 'pipe', 'pipe']}).toString();
const timed = fn => {
	// Writeback of the previous run's output must not slow this one down.
	execFileSync('sync');
	const start = performance.now();
	fn();
	return (performance.now() - start) / 1000;
};
const median = values => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];

/** A stopped VM whose disk is filled with data (a repeating pattern, not zeroes, so it is copied). */
function vmWithData(root, name) {
	const folder = path.join(root, name);
	mkdirSync(folder, {recursive: true});
	const disk = path.join(folder, 'vda.qcow2');
	run('qemu-img', ['create', '-q', '-f', 'qcow2', disk, `${SIZE_MIB}M`]);
	run('qemu-io', ['-f', 'qcow2', '-c', `write -P 0x5c 0 ${SIZE_MIB}M`, disk]);
	writeFileSync(
		path.join(folder, 'vm.json'),
		JSON.stringify({version: 1, name, disks: [{target: 'vda', file: 'vda.qcow2'}], current: null, snapshots: []}),
	);
	return disk;
}

const root = mkdtempSync(path.join(os.tmpdir(), 'snapdeck-bench-block-'));
try {
	const lab = path.join(root, 'lab');
	const disk = vmWithData(lab, 'vm1');
	const env = {SNAPDECK_CONNECT: `local:${lab}`};

	// 1. Full backup against qemu-img convert of the same disk (both read it from the page cache), and
	// against convert followed by what a backup also does: fsync the copy and take its sha256.
	const convert = [];
	const durable = [];
	const full = [];
	for (let index = 0; index < RUNS; index++) {
		const out = path.join(root, `convert-${index}.qcow2`);
		convert.push(timed(() => run('qemu-img', ['convert', '-f', 'qcow2', '-O', 'qcow2', disk, out])));
		rmSync(out);
		durable.push(
			timed(() => {
				run('qemu-img', ['convert', '-f', 'qcow2', '-O', 'qcow2', disk, out]);
				run('sync', [out]);
				createHash('sha256').update(readFileSync(out)).digest('hex');
			}),
		);
		rmSync(out);
		const repo = path.join(root, `repo-${index}`);
		// Plain clusters, as qemu-img convert writes them (bench/offsite.mjs measures compressed points).
		full.push(timed(() => run(BIN, ['backup', 'vm1', '--full', '--no-compress'], {...env, SNAPDECK_REPO: repo})));
		if (index < RUNS - 1) rmSync(repo, {recursive: true});
	}

	// 2. An incremental after 1% of the disk changed (in 1 MiB pieces spread over it), against the full.
	const repo = path.join(root, `repo-${RUNS - 1}`);
	const incremental = [];
	for (let index = 0; index < RUNS; index++) {
		const pieces = Math.max(1, Math.round(SIZE_MIB / 100));
		for (let piece = 0; piece < pieces; piece++) {
			const offset = Math.floor(((piece + 0.5) * SIZE_MIB) / pieces);
			run('qemu-io', ['-f', 'qcow2', '-c', `write -P ${0x10 + index} ${offset}M 1M`, disk]);
		}
		incremental.push(
			timed(() => run(BIN, ['backup', 'vm1', '--incremental', '--no-compress'], {...env, SNAPDECK_REPO: repo})),
		);
	}

	// 3. Merge of an overlay holding half the disk, against qemu-img commit of a copy of the same chain.
	const commit = [];
	const removal = [];
	const merge = [];
	for (let index = 0; index < RUNS; index++) {
		const mergeLab = path.join(root, `merge-${index}`);
		const mergeDisk = vmWithData(mergeLab, 'vm2');
		run(BIN, ['snapshot', 'vm2', 's1', '--yes'], {SNAPDECK_CONNECT: `local:${mergeLab}`});
		const top = path.join(mergeLab, 'vm2', 'vda.s1.qcow2');
		run('qemu-io', ['-f', 'qcow2', '-c', `write -P 0x77 0 ${SIZE_MIB / 2}M`, top]);
		const bare = path.join(root, `bare-${index}`);
		mkdirSync(bare);
		run('cp', ['--sparse=always', mergeDisk, top, bare]);
		commit.push(timed(() => run('qemu-img', ['commit', '-d', path.join(bare, 'vda.s1.qcow2')])));
		// What a merge also does: delete the merged overlay (freeing its extents takes time too).
		removal.push(timed(() => rmSync(path.join(bare, 'vda.s1.qcow2'))));
		// Merging s1 away commits the active overlay down into vda.qcow2, as the bare commit does.
		merge.push(timed(() => run(BIN, ['merge', 'vm2', 's1', '--yes'], {SNAPDECK_CONNECT: `local:${mergeLab}`})));
		rmSync(mergeLab, {recursive: true});
		rmSync(bare, {recursive: true});
	}

	const throughput = seconds => `${((SIZE_MIB * MiB) / seconds / MiB).toFixed(0)} MiB/s`;
	const [c, d, f, i, q, m] = [
		median(convert),
		median(durable),
		median(full),
		median(incremental),
		median(commit),
		median(merge),
	];
	console.log(`disk: ${SIZE_MIB} MiB of data, ${RUNS} run(s) each, medians`);
	console.log(
		`full backup: ${f.toFixed(2)} s (${throughput(f)}); qemu-img convert: ${c.toFixed(2)} s (${throughput(c)}); ratio ${(c / f).toFixed(2)}x convert's throughput`,
	);
	console.log(
		`  against convert + fsync + sha256 of the copy: ${d.toFixed(2)} s (${throughput(d)}); ratio ${(d / f).toFixed(2)}x`,
	);
	console.log(`incremental, 1% changed: ${i.toFixed(2)} s = ${((i / f) * 100).toFixed(1)}% of the full's time`);
	console.log(
		`merge (${SIZE_MIB / 2} MiB overlay): ${m.toFixed(2)} s; qemu-img commit: ${q.toFixed(2)} s; ratio ${(q / m).toFixed(2)}x commit's throughput`,
	);
	console.log(
		`  against commit + deleting the overlay: ${(q + median(removal)).toFixed(2)} s; ratio ${((q + median(removal)) / m).toFixed(2)}x`,
	);
	report({
		name: `5. full backup, ${SIZE_MIB} MiB of data, stopped VM`,
		figure: `${f.toFixed(2)} s (${throughput(f)})`,
		baseline: `qemu-img convert: ${c.toFixed(2)} s; convert + fsync + sha256: ${d.toFixed(2)} s`,
		ratio: `${(c / f).toFixed(2)}x convert; ${(d / f).toFixed(2)}x convert + fsync + sha256`,
		target: 'at least 0.9x convert',
		met: c / f >= 0.9,
	});
	report({
		name: '5. incremental backup, 1% of the disk changed',
		figure: `${i.toFixed(2)} s`,
		baseline: `the full: ${f.toFixed(2)} s`,
		ratio: `${((i / f) * 100).toFixed(1)}% of the full's time`,
		target: 'at most 10%',
		met: i / f <= 0.1,
	});
	report({
		name: `6. merge of a ${SIZE_MIB / 2} MiB overlay, stopped VM`,
		figure: `${m.toFixed(2)} s`,
		baseline: `qemu-img commit: ${q.toFixed(2)} s; commit + deleting the overlay: ${(q + median(removal)).toFixed(2)} s`,
		ratio: `${(q / m).toFixed(2)}x commit; ${((q + median(removal)) / m).toFixed(2)}x commit + delete`,
		target: 'at least 0.9x commit',
		met: q / m >= 0.9,
	});
} finally {
	rmSync(root, {recursive: true, force: true});
}
