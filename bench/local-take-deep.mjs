#!/usr/bin/env node
// A live take of a running local VM whose chain was built by live takes, at several depths: does
// `snapdeck snapshot VM NAME --yes` grow with the chain? Against the floor of bench/local-take.mjs
// (a Node script asking QMP for the top node and sending one `transaction`), run on a twin VM whose
// chain the script grows to the same depth, paired and interleaved, medians of the pairs' ratios.
// After the timed pairs at each depth, one more take runs through a counting proxy put in front of
// QEMU's monitor socket: the QMP commands of one take by kind, the bytes QEMU answered and how long
// it took to answer them (the proxy costs time, so it is never in a timed take).
// Usage: npm run build && node bench/local-take-deep.mjs [PAIRS] [DEPTHS, e.g. 1,25,50,100]
// BENCH_BEFORE=DIR also times the build in DIR (a checkout with its own build) in the same pairs.
import {execFile, execFileSync, spawnSync} from 'node:child_process';
import {mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync} from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import {cleanupOnSignals, report, settled} from './report.mjs';

const PAIRS = Number(process.argv[2] ?? 5);
const DEPTHS = (process.argv[3] ?? '1,25,50,100').split(',').map(Number);
const BIN = path.resolve('bin/snapdeck');
const BEFORE = process.env['BENCH_BEFORE'] ? path.resolve(process.env['BENCH_BEFORE'], 'bin/snapdeck') : null;
const median = values => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
const root = mkdtempSync(path.join(os.tmpdir(), 'snapdeck-bench-take-deep-'));
const lab = path.join(root, 'lab');
const connect = ['--connect', `local:${lab}`];
const [vm, twin] = ['deep', 'twin'];
const socketOf = name => path.join(lab, name, 'qmp.sock');

// The floor (bench/qmp-take.cjs), as in bench/local-take.mjs: one connection, query-block, one transaction.
const script = path.resolve('bench/qmp-take.cjs');

const run = (command, args) => {
	const done = spawnSync(command, args, {encoding: 'utf8'});
	if (done.status !== 0) throw new Error(`${command} ${args.join(' ')}: ${done.stderr}`);
};
const timed = (command, args) => {
	const at = performance.now();
	run(command, args);
	return performance.now() - at;
};
let taken = 0;
const ours = (bin = BIN) => timed(bin, ['snapshot', vm, `t${++taken}`, '--yes', ...connect]);
// The counted take runs asynchronously: the proxy lives in this process's event loop.
const oursAsync = () =>
	new Promise((resolve, reject) =>
		execFile(BIN, ['snapshot', vm, `t${++taken}`, '--yes', ...connect], error => (error ? reject(error) : resolve())),
	);
let scripted = 0;
const floor = () =>
	timed('node', [script, socketOf(twin), path.join(lab, twin, `vda.t${++scripted}.qcow2`), `twin-${scripted}`]);

/**
 * Serves QEMU's monitor through a proxy for the length of `work`: QEMU's socket is moved aside
 * (a bound unix socket keeps working under its new name) and a counting one takes its place.
 */
async function counted(work) {
	const socket = socketOf(vm);
	const real = `${socket}.real`;
	renameSync(socket, real);
	const kinds = new Map();
	let connections = 0;
	const server = net.createServer(client => {
		connections++;
		const qemu = net.connect(real);
		const sent = new Map();
		let [fromClient, fromQemu] = ['', ''];
		client.on('data', chunk => {
			fromClient += chunk;
			for (let at = fromClient.indexOf('\n'); at >= 0; at = fromClient.indexOf('\n')) {
				const line = fromClient.slice(0, at);
				fromClient = fromClient.slice(at + 1);
				const message = JSON.parse(line);
				sent.set(message.id, {kind: message.execute, at: performance.now()});
			}
			qemu.write(chunk);
		});
		qemu.on('data', chunk => {
			fromQemu += chunk;
			for (let at = fromQemu.indexOf('\n'); at >= 0; at = fromQemu.indexOf('\n')) {
				const line = fromQemu.slice(0, at);
				fromQemu = fromQemu.slice(at + 1);
				const {id} = JSON.parse(line);
				const command = id === undefined ? undefined : sent.get(id);
				if (!command) continue;
				const kind = kinds.get(command.kind) ?? {count: 0, bytes: 0, ms: 0};
				kinds.set(command.kind, {
					count: kind.count + 1,
					bytes: kind.bytes + line.length,
					ms: kind.ms + performance.now() - command.at,
				});
			}
			client.write(chunk);
		});
		const end = () => (client.destroy(), qemu.destroy());
		client.on('close', end).on('error', end);
		qemu.on('close', end).on('error', end);
	});
	await new Promise(resolve => server.listen(socket, resolve));
	try {
		await work();
	} finally {
		await new Promise(resolve => server.close(resolve));
		rmSync(socket, {force: true});
		renameSync(real, socket);
	}
	return {connections, kinds};
}

const makeVm = name => {
	const folder = path.join(lab, name);
	mkdirSync(folder, {recursive: true});
	execFileSync('qemu-img', ['create', '-q', '-f', 'qcow2', path.join(folder, 'vda.qcow2'), '256M']);
	writeFileSync(
		path.join(folder, 'vm.json'),
		JSON.stringify({
			version: 1,
			name,
			description: '',
			qmp: 'qmp.sock',
			qemu: {machine: 'q35', memoryMiB: 128, accel: 'tcg', args: []},
			current: null,
			snapshots: [],
			disks: [{target: 'vda', file: 'vda.qcow2'}],
		}),
	);
	run(BIN, ['start', name, ...connect]);
	return Number(readFileSync(path.join(folder, '.snapdeck', 'qemu.pid'), 'utf8').trim());
};

const cleanup = cleanupOnSignals(() => {
	spawnSync(BIN, ['stop', '--all', ...connect], {stdio: 'ignore'});
	rmSync(root, {recursive: true, force: true});
});
try {
	await settled([makeVm(vm), makeVm(twin)]);
	const rows = [];
	for (const depth of DEPTHS) {
		// Both chains grow to the depth by the way each arm takes (a chain of 1 is the base image alone).
		while (taken + 1 < depth) ours();
		while (scripted + 1 < depth) floor();
		const [mine, theirs, before] = [[], [], []];
		for (let pair = 0; pair < PAIRS; pair++) {
			// The twin's chain as deep as ours at each pair (the build before adds a layer of its own).
			while (scripted < taken) floor();
			// Which arm goes first alternates.
			const arms = [() => mine.push(ours()), () => theirs.push(floor())];
			if (BEFORE) arms.push(() => before.push(ours(BEFORE)));
			for (let arm = 0; arm < arms.length; arm++) arms[(arm + pair) % arms.length]();
		}
		const {connections, kinds} = await counted(oursAsync);
		const sorted = [...kinds].sort((a, b) => b[1].ms - a[1].ms);
		const total = sorted.reduce((sum, [, kind]) => sum + kind.count, 0);
		const ratio = median(mine.map((value, index) => value / theirs[index]));
		const row = {depth, ours: median(mine), floor: median(theirs), ratio, commands: total, connections};
		if (BEFORE) {
			row.before = median(before.map((value, index) => value / mine[index]));
			row.beforeMs = median(before);
			row.beforeRatio = median(before.map((value, index) => value / theirs[index]));
		}
		rows.push(row);
		console.log(
			`chain ${depth} deep (to ${taken}): take ${row.ours.toFixed(0)} ms, floor ${row.floor.toFixed(0)} ms, ${ratio.toFixed(2)}x` +
				(BEFORE
					? `; the build before ${row.beforeMs.toFixed(0)} ms, ${row.beforeRatio.toFixed(2)}x the floor, ${row.before.toFixed(2)}x this one's time`
					: '') +
				`; one take: ${connections} QMP connections, ${total} commands`,
		);
		for (const [kind, {count, bytes, ms}] of sorted)
			console.log(`  ${kind}: ${count}x, ${(bytes / 1024).toFixed(0)} KiB answered, QEMU ${ms.toFixed(1)} ms`);
	}
	const [first, last] = [rows[0], rows.at(-1)];
	report({
		name: `take, running local VM, chain ${first.depth} / ${last.depth} deep`,
		figure: `${first.ours.toFixed(0)} / ${last.ours.toFixed(0)} ms`,
		baseline: `a Node script's QMP transaction: ${first.floor.toFixed(0)} / ${last.floor.toFixed(0)} ms`,
		ratio: `${first.ratio.toFixed(2)}x / ${last.ratio.toFixed(2)}x`,
	});
} finally {
	cleanup();
}
