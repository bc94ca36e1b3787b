#!/usr/bin/env node
// The everyday libvirt commands against their floor (issue 29): what an operator would type instead
// plus the start of an empty Node process (`node -e 0`), which any Node command line pays and virsh
// does not. Paired and interleaved in one run, medians of the pairs' ratios:
//  - take: `snapdeck snapshot VM NAME --yes` of a running domain against `node -e 0` +
//    `virsh snapshot-create-as --disk-only --atomic` of the same domain;
//  - list: `snapdeck list --json` of 30 domains, each with a 3-deep chain of external snapshots on
//    disk, against `node -e 0` + one virsh process running the same queries (state, definition,
//    snapshot names, current snapshot of each).
// Needs libvirtd and root. Usage: npm run build && node bench/libvirt-everyday.mjs [PAIRS] [DOMAINS]
// BENCH_BEFORE=OTHER/bin/snapdeck (another build, say the commit before a change) times it too in
// every pair, interleaved with this one, in an order that alternates: an A/B in the same conditions.
import {execFileSync, spawnSync} from 'node:child_process';
import {mkdtempSync, rmSync, writeFileSync} from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {cleanupOnSignals, report, settled} from './report.mjs';

const PAIRS = Number(process.argv[2] ?? 7);
const DOMAINS = Number(process.argv[3] ?? 30);
const URI = 'qemu:///system';
const BIN = path.resolve('bin/snapdeck');
const BEFORE = process.env.BENCH_BEFORE ? path.resolve(process.env.BENCH_BEFORE) : null;
const virsh = (...args) => execFileSync('virsh', ['-c', URI, ...args], {encoding: 'utf8', maxBuffer: 1 << 28});
const dir = mkdtempSync(path.join(os.tmpdir(), 'snapdeck-bench-everyday-'));
const prefix = `sdday-${process.pid}`;
const names = Array.from({length: DOMAINS}, (_, index) => `${prefix}-${String(index).padStart(2, '0')}`);
const median = values => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
// `list` ends 1 when a row has an error: on a shared libvirtd, another's odd domain says nothing of the timing.
const timed = (command, args, statuses = [0]) => {
	const at = performance.now();
	const run = spawnSync(command, args, {encoding: 'utf8', maxBuffer: 1 << 28, env: {...process.env, NO_COLOR: '1'}});
	if (!statuses.includes(run.status)) throw new Error(`${command} ${args.join(' ')} failed: ${run.stderr}`);
	return performance.now() - at;
};
/** This build's time and the other's (BENCH_BEFORE; null without it), the one run first alternating by pair. */
const builds = (pair, time) => {
	if (!BEFORE) return [time(BIN), null];
	if (pair % 2 === 0) {
		const ours = time(BIN);
		return [ours, time(BEFORE)];
	}
	const before = time(BEFORE);
	return [time(BIN), before];
};
const domainXml = (name, image) =>
	`<domain type='qemu'><name>${name}</name><memory unit='MiB'>64</memory><os><type arch='x86_64' machine='q35'>hvm</type></os><devices><disk type='file' device='disk'><driver name='qemu' type='qcow2'/><source file='${image}'/><target dev='vda' bus='virtio'/></disk></devices></domain>`;

const cleanup = cleanupOnSignals(() => {
	for (const name of names) {
		spawnSync('virsh', ['-c', URI, 'destroy', '--domain', name], {stdio: 'ignore'});
		spawnSync('virsh', ['-c', URI, 'undefine', '--domain', name, '--snapshots-metadata'], {stdio: 'ignore'});
	}
	rmSync(dir, {recursive: true, force: true});
});
try {
	for (const name of names) {
		const image = path.join(dir, `${name}.qcow2`);
		execFileSync('qemu-img', ['create', '-q', '-f', 'qcow2', image, '16M']);
		writeFileSync(path.join(dir, `${name}.xml`), domainXml(name, image));
	}
	virsh(names.map(name => `define --file ${path.join(dir, `${name}.xml`)}`).join('; '));
	// Three external snapshots each: chains 4 images deep on disk, as libvirt makes them on a stopped domain.
	for (let depth = 1; depth <= 3; depth++) {
		virsh(
			names
				.map(
					name =>
						`snapshot-create-as --domain ${name} --name c${depth} --disk-only --diskspec vda,snapshot=external,file=${path.join(dir, `${name}.c${depth}.qcow2`)}`,
				)
				.join('; '),
		);
	}
	const live = names[0];
	virsh('start', '--domain', live);
	await settled([Number(execFileSync('cat', [`/run/libvirt/qemu/${live}.pid`], {encoding: 'utf8'}).trim())]);

	// take: alternate the two, each making a new snapshot of the same running domain.
	const take = [];
	for (let pair = 0; pair < PAIRS; pair++) {
		const [ours, before] = builds(pair, bin =>
			timed(bin, ['snapshot', live, `bench-${bin === BIN ? 's' : 'b'}${pair}`, '--yes', '--connect', URI]),
		);
		const theirs =
			timed(process.execPath, ['-e', '0']) +
			timed('virsh', [
				'-c',
				URI,
				'snapshot-create-as',
				'--domain',
				live,
				'--name',
				`bench-v${pair}`,
				'--disk-only',
				'--atomic',
				'--diskspec',
				`vda,snapshot=external,file=${path.join(dir, `${live}.v${pair}.qcow2`)}`,
			]);
		take.push({ours, theirs, before});
	}
	// list: the same queries in one virsh process, for every domain on the host (as snapdeck lists them all).
	const all = virsh('list', '--all', '--name')
		.split('\n')
		.map(line => line.trim())
		.filter(Boolean);
	const script = all
		.map(
			name =>
				`domstate --domain ${name}; dumpxml --domain ${name}; snapshot-list --domain ${name} --name; snapshot-current --domain ${name} --name`,
		)
		.join('; ');
	const list = [];
	for (let pair = 0; pair < PAIRS; pair++) {
		const [ours, before] = builds(pair, bin => timed(bin, ['list', '--json', '--connect', URI], [0, 1]));
		const theirs = timed(process.execPath, ['-e', '0']) + timed('virsh', ['-c', URI, `list --all --name; ${script}`]);
		list.push({ours, theirs, before});
	}
	for (const [label, pairs, baseline, target] of [
		[
			'take, running libvirt domain (`snapdeck snapshot --yes`)',
			take,
			'`node -e 0` + `virsh snapshot-create-as --disk-only --atomic`',
			1.5,
		],
		[
			`list, ${all.length} libvirt domains (${DOMAINS} with 3-deep chains on disk), \`snapdeck list --json\``,
			list,
			'`node -e 0` + one virsh process with the same queries',
			1.5,
		],
	]) {
		const ratio = median(pairs.map(({ours, theirs}) => ours / theirs));
		const ours = median(pairs.map(pair => pair.ours));
		const theirs = median(pairs.map(pair => pair.theirs));
		console.log(
			`${label}: ${ours.toFixed(0)} ms; ${baseline}: ${theirs.toFixed(0)} ms; median of ${pairs.length} paired ratios ${ratio.toFixed(2)}x`,
		);
		if (BEFORE) {
			const was = median(pairs.map(pair => pair.before / pair.theirs));
			console.log(
				`  before (${BEFORE}): ${median(pairs.map(pair => pair.before)).toFixed(0)} ms, ${was.toFixed(2)}x its floor; this build against it, median of the pairs: ${median(pairs.map(pair => pair.ours / pair.before)).toFixed(2)}x`,
			);
		}
		report({
			name: label,
			figure: `${ours.toFixed(0)} ms`,
			baseline: `${baseline}: ${theirs.toFixed(0)} ms`,
			ratio: `${ratio.toFixed(2)}x`,
			target: `at most ${target}x`,
			met: ratio <= target,
		});
	}
} finally {
	cleanup();
}
