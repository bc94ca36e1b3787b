#!/usr/bin/env node
// A VM whose disk is a chain 500 images deep (500 external snapshots), as a host left alone for
// years can hold: `list`, `tree` and `health` against the targets of issue 15 (under 1 s, 1 s and
// 5 s), `health` both the first time (every image checked) and again (images unchanged).
// Usage: npm run build && node bench/deep-chain.mjs [DEPTH]
import {execFileSync, spawnSync} from 'node:child_process';
import {mkdirSync, mkdtempSync, rmSync, writeFileSync} from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {report} from './report.mjs';

const DEPTH = Number(process.argv[2] ?? 500);
const BIN = path.resolve('bin/snapdeck');
const median = values => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
const root = mkdtempSync(path.join(os.tmpdir(), 'snapdeck-bench-deep-'));
const env = {
	...process.env,
	SNAPDECK_CONNECT: `local:${path.join(root, 'lab')}`,
	SNAPDECK_REPO: path.join(root, 'repo'),
	SNAPDECK_CONFIG_DIR: path.join(root, 'config'),
	SNAPDECK_CHECK_CACHE: path.join(root, 'image-checks.json'),
};
const timed = args => {
	const start = performance.now();
	const run = spawnSync(BIN, [...args], {env, encoding: 'utf8', maxBuffer: 1 << 28});
	// health exits 1 or 2 for what it finds (a chain this deep is a finding).
	if (run.status !== 0 && !(args[0] === 'health' && [1, 2].includes(run.status)))
		throw new Error(`${args.join(' ')}: ${run.stderr}`);
	return performance.now() - start;
};

try {
	const folder = path.join(root, 'lab', 'deep');
	mkdirSync(folder, {recursive: true});
	execFileSync('qemu-img', ['create', '-q', '-f', 'qcow2', path.join(folder, 'vda.0.qcow2'), '1G']);
	const snapshots = [];
	for (let index = 1; index <= DEPTH; index++) {
		execFileSync('qemu-img', [
			'create',
			'-q',
			'-f',
			'qcow2',
			'-F',
			'qcow2',
			'-b',
			`vda.${index - 1}.qcow2`,
			path.join(folder, `vda.${index}.qcow2`),
		]);
		snapshots.push({
			name: `s${index}`,
			kind: 'external',
			createdAt: new Date().toISOString(),
			parent: index === 1 ? null : `s${index - 1}`,
			disks: [{target: 'vda', file: `vda.${index - 1}.qcow2`}],
		});
	}
	writeFileSync(
		path.join(folder, 'vm.json'),
		JSON.stringify({
			version: 1,
			name: 'deep',
			disks: [{target: 'vda', file: `vda.${DEPTH}.qcow2`}],
			current: `s${DEPTH}`,
			snapshots,
		}),
	);
	const first = timed(['health', 'deep', '--json']);
	const rows = {list: [], tree: [], health: [], merge: []};
	for (let run = 0; run < 5; run++) {
		rows.list.push(timed(['list', '--json']));
		rows.tree.push(timed(['tree', 'deep', '--json']));
		rows.health.push(timed(['health', 'deep', '--json']));
		rows.merge.push(timed(['merge', 'deep', 's250', '--dry-run', '--json']));
	}
	const [list, tree, health, merge] = [rows.list, rows.tree, rows.health, rows.merge].map(median);
	console.log(
		`a chain ${DEPTH} images deep, medians of 5: list ${list.toFixed(0)} ms, tree ${tree.toFixed(0)} ms, health ${health.toFixed(0)} ms (the first run ${first.toFixed(0)} ms), merge --dry-run ${merge.toFixed(0)} ms`,
	);
	report({
		name: `list / tree / health, a chain ${DEPTH} images deep`,
		figure: `${list.toFixed(0)} / ${tree.toFixed(0)} / ${health.toFixed(0)} ms (health the first time: ${first.toFixed(0)} ms; merge --dry-run ${merge.toFixed(0)} ms)`,
		baseline: '-',
		ratio: '',
		target: 'under 1 s / 1 s / 5 s',
		met: list < 1000 && tree < 1000 && health < 5000 && first < 5000,
	});
} finally {
	rmSync(root, {recursive: true, force: true});
}
