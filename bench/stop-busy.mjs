#!/usr/bin/env node
// `snapdeck stop` of a busy VM (issue 15: it took 12-14 s and ended in SIGKILL, QMP quit never
// sent): the real Linux guest (scripts/build-guest.mjs) writing its durable records (the
// workload), and two other clients holding QEMU's monitor (it serves one and queues one). Each
// round boots the guest, waits for its workload, then times the stop; how QEMU ended is read from
// the journal ("stopped through QMP quit", or by a signal). Target: under 2 s, through QMP quit.
// Usage: npm run build && node bench/stop-busy.mjs [ROUNDS]
import {execFileSync, spawn, spawnSync} from 'node:child_process';
import {copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync} from 'node:fs';
import {connect} from 'node:net';
import os from 'node:os';
import path from 'node:path';
import {report} from './report.mjs';

const ROUNDS = Number(process.argv[2] ?? 3);
const BIN = path.resolve('bin/snapdeck');
const sleep = ms => new Promise(resolve => setTimeout(resolve, ms));
const median = values => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
const guest = execFileSync(process.execPath, ['scripts/build-guest.mjs'], {encoding: 'utf8'}).trim().split('\n').at(-1);
const root = mkdtempSync(path.join(os.tmpdir(), 'snapdeck-bench-stop-'));
const folder = path.join(root, 'busy1');
const cli = (...args) => spawnSync(BIN, [...args, '--connect', `local:${root}`], {encoding: 'utf8'});

try {
	mkdirSync(folder);
	copyFileSync(path.join(guest, 'vmlinuz'), path.join(folder, 'vmlinuz'));
	copyFileSync(path.join(guest, 'initrd'), path.join(folder, 'initrd'));
	execFileSync('qemu-img', ['convert', '-O', 'qcow2', path.join(guest, 'root.qcow2'), path.join(folder, 'vda.qcow2')]);
	writeFileSync(
		path.join(folder, 'vm.json'),
		JSON.stringify({
			version: 1,
			name: 'busy1',
			current: null,
			snapshots: [],
			disks: [{target: 'vda', file: 'vda.qcow2'}],
			qmp: 'qmp.sock',
			instant: null,
			qemu: {
				machine: 'q35',
				memoryMiB: 256,
				accel: 'tcg',
				args: [],
				kernel: {file: 'vmlinuz', initrd: 'initrd', append: 'console=tty0 console=ttyS0 panic=-1 snapdeck.workload=1'},
				agent: 'agent.sock',
				console: 'console.log',
				display: false,
			},
		}),
	);
	const times = [];
	const endings = [];
	for (let round = 0; round < ROUNDS; round++) {
		rmSync(path.join(folder, 'console.log'), {force: true});
		const started = cli('start', 'busy1');
		if (started.status !== 0) throw new Error(`start: ${started.stderr}`);
		// Busy: the workload acknowledging records on the console (20 of them this boot).
		const acknowledged = () =>
			(existsSync(path.join(folder, 'console.log'))
				? readFileSync(path.join(folder, 'console.log'), 'utf8')
				: ''
			).match(/^durable \d+\r?$/gm)?.length ?? 0;
		for (const deadline = Date.now() + 180_000; acknowledged() < 20;) {
			if (Date.now() > deadline) throw new Error('the workload never started');
			await sleep(200);
		}
		const held = [connect(path.join(folder, 'qmp.sock')), connect(path.join(folder, 'qmp.sock'))];
		await Promise.all(held.map(client => new Promise(resolve => client.once('connect', resolve))));
		setTimeout(() => held.forEach(client => client.destroy()), 1000);
		const at = performance.now();
		// Not spawnSync: the timer that lets the two clients go must run while snapdeck stops the VM.
		const stopped = await new Promise(resolve => {
			const child = spawn(BIN, ['stop', 'busy1', '--connect', `local:${root}`]);
			let stderr = '';
			child.stderr.on('data', chunk => (stderr += chunk));
			child.on('exit', status => resolve({status, stderr}));
		});
		times.push((performance.now() - at) / 1000);
		if (stopped.status !== 0) throw new Error(`stop: ${stopped.stderr}`);
		// How it ended, as the journal records it.
		const journal = readFileSync(path.join(folder, '.snapdeck', 'journal.jsonl'), 'utf8')
			.trim()
			.split('\n')
			.map(line => JSON.parse(line));
		const ended =
			journal.filter(entry => entry.action === 'stop' && entry.outcome === 'done').at(-1)?.message ?? 'unknown';
		endings.push(
			/QMP quit/.test(ended) ? 'quit' : /SIGTERM/.test(ended) ? 'SIGTERM' : /SIGKILL/.test(ended) ? 'SIGKILL' : ended,
		);
		console.log(`round ${round + 1}: stopped in ${times.at(-1).toFixed(2)} s (${endings.at(-1)})`);
	}
	const seconds = median(times);
	const quit = endings.every(ending => ending === 'quit');
	report({
		name: 'stop of a busy VM (the real guest writing, the monitor held by two clients)',
		figure: `${seconds.toFixed(2)} s (median of ${ROUNDS}); ended by ${[...new Set(endings)].join(', ')}`,
		baseline: '-',
		ratio: '',
		target: 'under 2 s, through QMP quit',
		met: seconds < 2 && quit,
	});
} finally {
	spawnSync(BIN, ['stop', '--all', '--connect', `local:${root}`], {stdio: 'ignore'});
	rmSync(root, {recursive: true, force: true});
}
