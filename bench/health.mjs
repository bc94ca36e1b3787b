#!/usr/bin/env node
// `snapdeck health` on 200 VMs against the inventory alone (`snapdeck list`), same lab, same run.
// Each VM has one disk with two external snapshots (a chain of three images) and one backup.
// Usage: npm run build && node bench/health.mjs [--quick]
import {execFileSync} from 'node:child_process';
import {copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync} from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {report} from './report.mjs';

const BIN = path.resolve('bin/snapdeck');
const COUNT = process.argv.includes('--quick') ? 10 : 200;
const RUNS = process.argv.includes('--quick') ? 1 : 5;
const median = values => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
const root = mkdtempSync(path.join(os.tmpdir(), 'snapdeck-bench-health-'));
const env = {
	...process.env,
	SNAPDECK_CONNECT: `local:${path.join(root, 'lab')}`,
	SNAPDECK_REPO: path.join(root, 'repo'),
	SNAPDECK_CONFIG_DIR: path.join(root, 'config'),
	SNAPDECK_CHECK_CACHE: path.join(root, 'image-checks.json'),
};
const run = args => execFileSync(BIN, [...args], {env, stdio: ['ignore', 'pipe', 'pipe']});
const timed = args => {
	const start = performance.now();
	try {
		run(args);
	} catch (error) {
		if (error.status !== 1 && error.status !== 2) throw error; // health exits 1 or 2 when it finds something
	}
	return performance.now() - start;
};

try {
	// One template VM folder (a 3-image chain), copied 200 times: building each with qemu-img would take minutes.
	const template = path.join(root, 'template', 'vm');
	mkdirSync(template, {recursive: true});
	execFileSync('qemu-img', ['create', '-q', '-f', 'qcow2', path.join(template, 'vda.qcow2'), '1G']);
	execFileSync('qemu-img', [
		'create',
		'-q',
		'-f',
		'qcow2',
		'-F',
		'qcow2',
		'-b',
		'vda.qcow2',
		path.join(template, 'vda.s1.qcow2'),
	]);
	execFileSync('qemu-img', [
		'create',
		'-q',
		'-f',
		'qcow2',
		'-F',
		'qcow2',
		'-b',
		'vda.s1.qcow2',
		path.join(template, 'vda.s2.qcow2'),
	]);
	const snapshot = (name, parent, file) => ({
		name,
		kind: 'external',
		createdAt: new Date().toISOString(),
		parent,
		disks: [{target: 'vda', file}],
	});
	const names = Array.from({length: COUNT}, (_, index) => `vm${String(index).padStart(3, '0')}`);
	for (const name of names) {
		const folder = path.join(root, 'lab', name);
		mkdirSync(folder, {recursive: true});
		for (const file of ['vda.qcow2', 'vda.s1.qcow2', 'vda.s2.qcow2'])
			copyFileSync(path.join(template, file), path.join(folder, file));
		writeFileSync(
			path.join(folder, 'vm.json'),
			JSON.stringify({
				version: 1,
				name,
				disks: [{target: 'vda', file: 'vda.s2.qcow2'}],
				current: 's2',
				snapshots: [snapshot('s1', null, 'vda.qcow2'), snapshot('s2', 's1', 'vda.s1.qcow2')],
			}),
		);
	}
	for (const name of names.slice(0, Math.min(20, COUNT))) run(['backup', name]);
	const list = [];
	const health = [];
	// Cold: every image checked (the first run on a host, or after every image changed).
	rmSync(env.SNAPDECK_CHECK_CACHE, {force: true});
	const cold = timed(['health', '--json']);
	for (let index = 0; index < RUNS; index++) {
		list.push(timed(['list', '--json']));
		health.push(timed(['health', '--json']));
	}
	const [l, h] = [median(list), median(health)];
	console.log(
		`${COUNT} VMs (3 images each, 20 with a backup), median of ${RUNS}: health ${h.toFixed(0)} ms (the first run, checking every image: ${cold.toFixed(0)} ms); inventory alone (list) ${l.toFixed(0)} ms; ratio ${(h / l).toFixed(2)}x (first run ${(cold / l).toFixed(2)}x)`,
	);
	report({
		name: `7. snapdeck health on ${COUNT} VMs (3 images each)`,
		figure: `${h.toFixed(0)} ms; the first run ${cold.toFixed(0)} ms`,
		baseline: `snapdeck list: ${l.toFixed(0)} ms`,
		ratio: `${(h / l).toFixed(2)}x the inventory; the first run ${(cold / l).toFixed(2)}x`,
		target: 'at most 5x',
		met: h / l <= 5,
	});
} finally {
	rmSync(root, {recursive: true, force: true});
}
