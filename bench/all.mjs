#!/usr/bin/env node
// Runs every benchmark (each measures against a baseline in its own run), prints the results as a
// table and writes them, with the machine and the date, between the "latest run" markers of
// BENCHMARKS.md. Usage: npm run bench
import {execFileSync, spawnSync} from 'node:child_process';
import {readFileSync, rmSync, writeFileSync} from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const BENCHES = [
	['startup.mjs'],
	['ui-pty.mjs'],
	['ui-pty.mjs', '--take-libvirt'],
	['block.mjs'],
	['health.mjs'],
	['deep-chain.mjs'],
	['libvirt-inventory.mjs'],
	['libvirt-everyday.mjs'],
	['local-take.mjs'],
	['backup-peer.mjs'],
	['stop-busy.mjs'],
	['offsite.mjs'],
];
const results = path.join(os.tmpdir(), `snapdeck-bench-${process.pid}.jsonl`);
const version = (command, args) => {
	try {
		return execFileSync(command, args, {stdio: ['ignore', 'pipe', 'ignore']})
			.toString()
			.split('\n')[0]
			.trim();
	} catch {
		return 'not installed';
	}
};

rmSync(results, {force: true});
let failed = false;
for (const [bench, ...args] of BENCHES) {
	console.log(`\n== ${[bench, ...args].join(' ')}`);
	const run = spawnSync(process.execPath, [path.join('bench', bench), ...args], {
		stdio: 'inherit',
		env: {...process.env, BENCH_RESULTS: results},
	});
	if (run.status !== 0) {
		failed = true;
		console.log(`${bench} failed (exit ${run.status})`);
	}
}
const rows = readFileSync(results, 'utf8')
	.split('\n')
	.filter(Boolean)
	.map(line => JSON.parse(line));
rmSync(results, {force: true});
const cell = text => String(text).replaceAll('|', '\\|');
const table = [
	'| benchmark | figure | baseline (same run) | ratio | target (issues 8, 15, 29) |',
	'| --- | --- | --- | --- | --- |',
	...rows.map(
		row =>
			`| ${cell(row.name)} | ${cell(row.figure)} | ${cell(row.baseline)} | ${cell(row.ratio)} | ${row.target ? `${cell(row.target)}: ${row.met ? 'met' : 'missed'}` : ''} |`,
	),
].join('\n');
const machine = `${os.type()} ${os.release()}, ${os.cpus().length} cores (${os.cpus()[0]?.model ?? 'unknown CPU'}), ${Math.round(os.totalmem() / 2 ** 30)} GiB; Node ${process.versions.node}; ${version('qemu-img', ['--version'])}; ${version('virsh', ['--version']).replace(/^/, 'libvirt ')}`;
const section = `<!-- latest run: written by bench/all.mjs -->\nLatest \`npm run bench\`: ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC on ${machine}.\n\n${table}\n<!-- end of latest run -->`;
console.log(`\n${table}`);
const file = 'BENCHMARKS.md';
const text = readFileSync(file, 'utf8');
const marked = /<!-- latest run: written by bench\/all\.mjs -->[\s\S]*?<!-- end of latest run -->/;
writeFileSync(
	file,
	marked.test(text)
		? text.replace(marked, section)
		: text.replace(
				/\n\| benchmark \|/,
				`\n${section}\n\nThe history, with the figures of earlier runs and of the changes that moved them:\n\n| benchmark |`,
			),
);
process.exitCode = failed ? 1 : 0;
