#!/usr/bin/env node
// Backups side by side with virtnbdbackup (issue 15), on the same data, interleaved round by round,
// ratios taken pair by pair (medians): two running libvirt domains with identical disks (two disks
// of 1 GiB each: programs and shared files as tar writes them, and random bytes), one backed up by
// snapdeck, the other by virtnbdbackup (each tool's checkpoints would stop the other's on one domain).
//   - full, uncompressed: `snapdeck backup --full --no-compress` against `virtnbdbackup -l full`;
//   - full, compressed: `snapdeck backup --full` (zstd) against `virtnbdbackup -l full -z` (lz4);
//   - incremental after 1% of each disk changed: `snapdeck backup` against `virtnbdbackup -l inc`;
//   - restore of the incremental as a disk image: `snapdeck restore --to` against `virtnbdrestore`.
// And against the floor of the stack (issue 29), in the same rounds:
//   - the compressed full against `qemu-img convert -c -O qcow2 -o compression_type=zstd` of the same
//     two disks (both at once, as snapdeck copies them), from a stopped copy of their images;
//   - the restore against `qemu-img convert -O qcow2` of the same point's chain, then fsync of the
//     result (`sync FILE`), both disks at once.
// Time is wall clock; CPU is the tool's processes and its children plus what its domain's QEMU
// spent meanwhile (snapdeck's copy runs inside QEMU, virtnbdbackup's in Python over NBD).
// Installs virtnbdbackup from Debian when it is missing. Needs root and libvirtd.
// Usage: npm run build && node bench/backup-peer.mjs [ROUNDS]
import {execFile, execFileSync, spawnSync} from 'node:child_process';
import {promisify} from 'node:util';
import {existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync} from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {cleanupOnSignals, cpuSeconds, report} from './report.mjs';

const ROUNDS = Number(process.argv[2] ?? 5);
const URI = 'qemu:///system';
const BIN = path.resolve('bin/snapdeck');
const MiB = 1024 * 1024;
const FILES_MIB = 768;
const RANDOM_MIB = 256;
const DISK_MIB = 2048;
const run = (command, args, env = {}) =>
	execFileSync(command, args, {
		env: {...process.env, ...env},
		stdio: ['ignore', 'pipe', 'pipe'],
		maxBuffer: 1 << 26,
	}).toString();
const virsh = (...args) => run('virsh', ['-c', URI, ...args]);
const median = values => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
const cpuOf = pid => cpuSeconds(`/proc/${pid}/stat`);
const qemuPid = domain => Number(readFileSync(`/run/libvirt/qemu/${domain}.pid`, 'utf8').trim());

if (spawnSync('which', ['virtnbdbackup']).status !== 0) {
	console.log('virtnbdbackup is missing: installing it from Debian');
	run('apt-get', ['install', '-y', '-q', 'virtnbdbackup']);
}
const peerVersion = run('virtnbdbackup', ['--version']).trim();

/** The CPU seconds (user + system) that /usr/bin/time -f 'CPU %U %S' wrote last on `stderr`. */
const timedCpu = stderr =>
	stderr
		.match(/CPU ([\d.]+) ([\d.]+)\s*$/)
		.slice(1)
		.reduce((sum, part) => sum + Number(part), 0);

/** Runs a command under /usr/bin/time, with its domain's QEMU watched: wall seconds, and CPU seconds of both. */
function measured(domain, command, args, env = {}) {
	execFileSync('sync');
	const qemu = qemuPid(domain);
	const before = cpuOf(qemu);
	const started = performance.now();
	const result = spawnSync('/usr/bin/time', ['-f', 'CPU %U %S', command, ...args], {
		env: {...process.env, NO_COLOR: '1', ...env},
		encoding: 'utf8',
		maxBuffer: 1 << 26,
	});
	const seconds = (performance.now() - started) / 1000;
	if (result.status !== 0) throw new Error(`${command} ${args.join(' ')} failed: ${result.stderr}`);
	return {seconds, cpu: timedCpu(result.stderr) + cpuOf(qemu) - before};
}

/** `jobs` (command lines) run at once: wall seconds until the last ends, and their CPU seconds. */
async function together(jobs) {
	execFileSync('sync');
	const started = performance.now();
	const results = await Promise.all(
		jobs.map(([command, ...args]) =>
			promisify(execFile)('/usr/bin/time', ['-f', 'CPU %U %S', command, ...args], {maxBuffer: 1 << 26}),
		),
	);
	const seconds = (performance.now() - started) / 1000;
	const cpu = results.reduce((sum, {stderr}) => sum + timedCpu(stderr), 0);
	return {seconds, cpu};
}

const root = mkdtempSync(path.join(os.tmpdir(), 'snapdeck-bench-peer-'));
const domains = ['ours', 'theirs'].map(side => `sdpeer-${side}-${process.pid}`);
const cleanup = cleanupOnSignals(() => {
	for (const domain of domains) {
		spawnSync('virsh', ['-c', URI, 'destroy', '--domain', domain], {stdio: 'ignore'});
		spawnSync('virsh', ['-c', URI, 'undefine', '--domain', domain, '--checkpoints-metadata', '--snapshots-metadata'], {
			stdio: 'ignore',
		});
	}
	rmSync(root, {recursive: true, force: true});
});
try {
	const files = path.join(root, 'files.bin');
	run('bash', [
		'-c',
		`tar cf - /usr/bin /usr/lib/x86_64-linux-gnu /usr/share 2>/dev/null | head -c ${FILES_MIB * MiB} > ${files}`,
	]);
	const random = path.join(root, 'random.bin');
	run('dd', ['if=/dev/urandom', `of=${random}`, 'bs=1M', `count=${RANDOM_MIB}`, 'status=none']);
	const fresh = path.join(root, 'fresh.bin');
	const changedMiB = Math.round(DISK_MIB / 100);
	run('dd', ['if=/dev/urandom', `of=${fresh}`, 'bs=1M', `count=${changedMiB}`, 'status=none']);
	// The images of both domains: made once, copied per round (each round starts from the same disks).
	const pristine = ['vda', 'vdb'].map(target => {
		const image = path.join(root, `pristine-${target}.qcow2`);
		run('qemu-img', ['create', '-q', '-f', 'qcow2', image, `${DISK_MIB}M`]);
		run('qemu-io', ['-f', 'qcow2', '-c', `write -s ${files} 0 ${FILES_MIB * MiB}`, image]);
		run('qemu-io', ['-f', 'qcow2', '-c', `write -s ${random} ${FILES_MIB * MiB} ${RANDOM_MIB * MiB}`, image]);
		return {target, image};
	});
	const type = existsSync('/dev/kvm') ? 'kvm' : 'qemu';
	const start = domain => {
		const disks = pristine.map(({target, image}) => {
			const copy = path.join(root, `${domain}-${target}.qcow2`);
			run('cp', ['--sparse=always', image, copy]);
			return `<disk type='file' device='disk'><driver name='qemu' type='qcow2'/><source file='${copy}'/><target dev='${target}' bus='virtio'/></disk>`;
		});
		writeFileSync(
			path.join(root, `${domain}.xml`),
			`<domain type='${type}'><name>${domain}</name><memory unit='MiB'>128</memory><os><type arch='x86_64' machine='q35'>hvm</type></os><devices>${disks.join('')}</devices></domain>`,
		);
		virsh('define', '--file', path.join(root, `${domain}.xml`));
		virsh('start', '--domain', domain);
	};
	const stop = domain => {
		spawnSync('virsh', ['-c', URI, 'destroy', '--domain', domain], {stdio: 'ignore'});
		spawnSync('virsh', ['-c', URI, 'undefine', '--domain', domain, '--checkpoints-metadata', '--snapshots-metadata'], {
			stdio: 'ignore',
		});
	};
	// 1% of each disk changed, in the running domain, through its QEMU (as a guest would).
	const change = domain => {
		for (const target of ['vda', 'vdb']) {
			virsh(
				'qemu-monitor-command',
				'--domain',
				domain,
				'--hmp',
				`qemu-io -d /machine/peripheral/virtio-disk${target === 'vda' ? 0 : 1}/virtio-backend "write -s ${fresh} ${(FILES_MIB + RANDOM_MIB + 64) * MiB} ${changedMiB * MiB}"`,
			);
		}
	};
	const bytesUnder = dir =>
		readdirSync(dir, {recursive: true, withFileTypes: true})
			.filter(entry => entry.isFile())
			.reduce((sum, entry) => sum + statSync(path.join(entry.parentPath ?? entry.path, entry.name)).size, 0);

	const rows = {full: [], compressed: [], incremental: [], restore: [], convertZstd: [], restoreFloor: []};
	for (let round = 0; round < ROUNDS; round++) {
		const [ours, theirs] = domains;
		for (const domain of domains) start(domain);
		const repo = path.join(root, `repo-${round}`);
		const plainRepo = path.join(root, `plain-${round}`);
		const zRepo = path.join(root, `z-${round}`);
		const out = path.join(root, `virtnbd-${round}`);
		const zOut = path.join(root, `virtnbd-z-${round}`);
		const env = {SNAPDECK_CONNECT: URI, SNAPDECK_CONFIG_DIR: path.join(root, 'config')};
		// Which tool goes first alternates, so neither always finds the page cache warmer.
		const pair = (a, b) => (round % 2 === 0 ? [a(), b()] : [b(), a()].reverse());
		const cleanCheckpoints = domain => {
			for (const name of virsh('checkpoint-list', '--domain', domain, '--name')
				.split('\n')
				.map(line => line.trim())
				.filter(Boolean))
				virsh('checkpoint-delete', '--domain', domain, '--checkpointname', name);
		};
		// Compressed fulls first, then thrown away with their checkpoints: the plain fulls start the chains the incrementals build on.
		rows.compressed.push(
			pair(
				() => measured(ours, BIN, ['backup', ours, '--full'], {...env, SNAPDECK_REPO: zRepo}),
				() => measured(theirs, 'virtnbdbackup', ['-d', theirs, '-l', 'full', '-z', '-o', zOut, '--noprogress']),
			).map((result, index) => ({...result, bytes: bytesUnder(index === 0 ? zRepo : zOut)})),
		);
		// The floor of a compressed full: qemu-img compressing the same data, nothing else.
		const floorOut = path.join(root, `floor-${round}`);
		mkdirSync(floorOut);
		rows.convertZstd.push([
			rows.compressed.at(-1)[0],
			{
				...(await together(
					pristine.map(({target, image}) => [
						'qemu-img',
						'convert',
						'-c',
						'-O',
						'qcow2',
						'-o',
						'compression_type=zstd',
						image,
						path.join(floorOut, `${target}.qcow2`),
					]),
				)),
				bytes: bytesUnder(floorOut),
			},
		]);
		rmSync(floorOut, {recursive: true, force: true});
		cleanCheckpoints(ours);
		cleanCheckpoints(theirs);
		rows.full.push(
			pair(
				() => measured(ours, BIN, ['backup', ours, '--full', '--no-compress'], {...env, SNAPDECK_REPO: plainRepo}),
				() => measured(theirs, 'virtnbdbackup', ['-d', theirs, '-l', 'full', '-o', out, '--noprogress']),
			),
		);
		change(ours);
		change(theirs);
		rows.incremental.push(
			pair(
				() => measured(ours, BIN, ['backup', ours, '--no-compress'], {...env, SNAPDECK_REPO: plainRepo}),
				() => measured(theirs, 'virtnbdbackup', ['-d', theirs, '-l', 'inc', '-o', out, '--noprogress']),
			),
		);
		const restored = path.join(root, `restored-${round}`);
		mkdirSync(restored);
		const newestPoint = JSON.parse(run(BIN, ['backups', ours, '--json', '--repo', plainRepo], env)).points.at(-1);
		const newest = newestPoint.id;
		rows.restore.push(
			pair(
				() =>
					measured(
						ours,
						BIN,
						['restore', ours, '--point', newest, '--to', path.join(restored, 'ours'), '--repo', plainRepo],
						env,
					),
				() => measured(theirs, 'virtnbdrestore', ['-i', out, '-o', path.join(restored, 'theirs'), '--noprogress']),
			),
		);
		// The floor of a restore: qemu-img reading the same point's chain into a new image, then fsync.
		mkdirSync(path.join(restored, 'floor'));
		const pointFiles = newestPoint.files.map(({file, disk}) => ({
			// The VM's folder in the repository (its name, or its name and host tag).
			source: path.join(
				plainRepo,
				readdirSync(plainRepo, {recursive: true}).find(entry => entry.endsWith(`/${file}`)),
			),
			out: path.join(restored, 'floor', `${disk}.qcow2`),
		}));
		rows.restoreFloor.push([
			rows.restore.at(-1)[0],
			await together(
				pointFiles.map(({source, out}) => [
					'sh',
					'-c',
					'qemu-img convert -O qcow2 "$0" "$1" && sync "$1"',
					source,
					out,
				]),
			),
		]);
		for (const domain of domains) stop(domain);
		for (const dir of [repo, plainRepo, zRepo, out, zOut, restored]) rmSync(dir, {recursive: true, force: true});
		console.log(`round ${round + 1} of ${ROUNDS} done`);
	}
	const summary = (label, pairs, baseline, target, cpuTarget) => {
		const speed = median(pairs.map(([ours, theirs]) => theirs.seconds / ours.seconds));
		const cpu = median(pairs.map(([ours, theirs]) => ours.cpu / theirs.cpu));
		const ours = median(pairs.map(([result]) => result.seconds));
		const theirs = median(pairs.map(([, result]) => result.seconds));
		const bytes =
			pairs[0][0].bytes === undefined
				? ''
				: `; ${median(pairs.map(([o, t]) => o.bytes / t.bytes)).toFixed(2)}x its bytes`;
		const met = speed >= target && (cpuTarget === null || cpu <= cpuTarget);
		console.log(
			`${label}: ${ours.toFixed(2)} s, ${baseline} ${theirs.toFixed(2)} s: ${speed.toFixed(2)}x its speed, ${cpu.toFixed(2)}x its CPU${bytes}`,
		);
		report({
			name: label,
			figure: `${ours.toFixed(2)} s`,
			baseline: `${baseline}: ${theirs.toFixed(2)} s`,
			ratio: `${speed.toFixed(2)}x its speed, ${cpu.toFixed(2)}x its CPU${bytes}`,
			target: `at least ${target}x its speed${cpuTarget === null ? '' : ' and CPU'}`,
			met,
		});
	};
	console.log(`virtnbdbackup: ${peerVersion}; ${ROUNDS} rounds, medians of the paired ratios`);
	summary(
		`full backup, running 2-disk domain, ${((2 * (FILES_MIB + RANDOM_MIB)) / 1024).toFixed(0)} GiB of data, uncompressed`,
		rows.full,
		`virtnbdbackup ${peerVersion} -l full`,
		1.0,
		null,
	);
	summary(
		'full backup, the same, compressed (zstd against lz4)',
		rows.compressed,
		'virtnbdbackup -l full -z',
		1.0,
		null,
	);
	summary('incremental backup, 1% of each disk changed', rows.incremental, 'virtnbdbackup -l inc', 1.0, 1.0);
	summary('restore of the incremental (both disks)', rows.restore, 'virtnbdrestore', 3.0, null);
	summary(
		'full backup, compressed, against the floor',
		rows.convertZstd,
		'`qemu-img convert -c -O qcow2 -o compression_type=zstd` of both disks at once (stopped images)',
		1.0,
		null,
	);
	summary(
		'restore of the incremental, against the floor',
		rows.restoreFloor,
		"`qemu-img convert -O qcow2` of the point's chain + fsync, both disks at once",
		0.9,
		null,
	);
} finally {
	cleanup();
}
