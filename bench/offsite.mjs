#!/usr/bin/env node
// Compressed points and off-site copies, each against what an operator would otherwise run, in the
// same run:
//  A. a full backup of a running 2-disk libvirt domain: snapdeck (zstd, and --no-compress) against
//     virtnbdbackup 1.9 (-l copy, plain and -z: lz4): repository bytes and time;
//  B. off-site copies of a local VM: bytes restic adds for the first copy and for the second after
//     1% of the disk changed, snapdeck's copy (the qcow2 chain as files) against plain restic of
//     the same point file and against the other layout, a raw stream per disk (restic --stdin).
// Needs root, libvirtd, virtnbdbackup and restic. Usage: npm run build && node bench/offsite.mjs [--quick]
import {execFileSync} from 'node:child_process';
import {existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync} from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {cleanupOnSignals, report} from './report.mjs';

const quick = process.argv.includes('--quick');
const MiB = 1024 * 1024;
const DISK_MIB = quick ? 128 : 1024;
/** Per disk: half of it real files (compressible as such data is), an eighth random, the rest never written. */
const FILES_MIB = DISK_MIB / 2;
const RANDOM_MIB = DISK_MIB / 8;
const RUNS = quick ? 1 : 3;
const BIN = path.resolve('bin/snapdeck');
const URI = 'qemu:///system';

const run = (command, args, env = {}, input) =>
	execFileSync(command, args, {
		env: {...process.env, ...env},
		input,
		stdio: [input ? 'pipe' : 'ignore', 'pipe', 'pipe'],
		maxBuffer: 1 << 26,
	}).toString();
const virsh = (...args) => run('virsh', ['-c', URI, ...args]);
const median = values => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
const timed = fn => {
	execFileSync('sync');
	const start = performance.now();
	const value = fn();
	return {seconds: (performance.now() - start) / 1000, value};
};
/** Bytes of every file under a folder (what the repository holds). */
const bytesUnder = dir =>
	readdirSync(dir, {recursive: true, withFileTypes: true})
		.filter(entry => entry.isFile())
		.reduce((sum, entry) => sum + statSync(path.join(entry.parentPath ?? entry.path, entry.name)).size, 0);
const mib = bytes => `${(bytes / MiB).toFixed(1)} MiB`;

const root = mkdtempSync(path.join(os.tmpdir(), 'snapdeck-bench-offsite-'));
const domain = `sdbench-offsite-${process.pid}`;
const cleanup = cleanupOnSignals(() => {
	try {
		execFileSync('virsh', ['-c', URI, 'destroy', '--domain', domain], {stdio: 'ignore'});
	} catch {}
	try {
		execFileSync('virsh', ['-c', URI, 'undefine', '--domain', domain, '--checkpoints-metadata'], {stdio: 'ignore'});
	} catch {}
	rmSync(root, {recursive: true, force: true});
});
try {
	// Real data: programs, libraries and shared files as tar writes them (zstd -3 makes them about a third), and random bytes.
	const files = path.join(root, 'files.bin');
	run('bash', [
		'-c',
		`tar cf - /usr/bin /usr/lib/x86_64-linux-gnu /usr/share 2>/dev/null | head -c ${FILES_MIB * MiB} > ${files}`,
	]);
	const random = path.join(root, 'random.bin');
	run('dd', ['if=/dev/urandom', `of=${random}`, 'bs=1M', `count=${RANDOM_MIB}`, 'status=none']);
	const fill = (image, offsetMiB = 0) => {
		run('qemu-io', ['-f', 'qcow2', '-c', `write -s ${files} ${offsetMiB * MiB} ${FILES_MIB * MiB}`, image]);
		run('qemu-io', [
			'-f',
			'qcow2',
			'-c',
			`write -s ${random} ${(offsetMiB + FILES_MIB) * MiB} ${RANDOM_MIB * MiB}`,
			image,
		]);
	};

	// A. A running libvirt domain with two disks of data (no guest OS: nothing writes meanwhile).
	const images = ['vda', 'vdb'].map(target => {
		const image = path.join(root, `${domain}-${target}.qcow2`);
		run('qemu-img', ['create', '-q', '-f', 'qcow2', image, `${DISK_MIB}M`]);
		fill(image);
		return {target, image};
	});
	const type = existsSync('/dev/kvm') ? 'kvm' : 'qemu';
	writeFileSync(
		path.join(root, 'domain.xml'),
		`<domain type='${type}'><name>${domain}</name><memory unit='MiB'>128</memory><os><type arch='x86_64' machine='q35'>hvm</type></os><devices>${images.map(({target, image}) => `<disk type='file' device='disk'><driver name='qemu' type='qcow2'/><source file='${image}'/><target dev='${target}' bus='virtio'/></disk>`).join('')}</devices></domain>`,
	);
	virsh('define', '--file', path.join(root, 'domain.xml'));
	virsh('start', '--domain', domain);
	const data = 2 * (FILES_MIB + RANDOM_MIB) * MiB;
	const measure = (label, fn) => {
		const rounds = [];
		for (let index = 0; index < RUNS; index++) {
			const dir = path.join(root, `${label}-${index}`);
			const {seconds} = timed(() => fn(dir));
			rounds.push({seconds, bytes: bytesUnder(dir)});
			rmSync(dir, {recursive: true, force: true});
		}
		const seconds = median(rounds.map(round => round.seconds));
		const bytes = median(rounds.map(round => round.bytes));
		console.log(`${label.padEnd(34)} ${seconds.toFixed(2)} s  ${mib(bytes)} in the repository`);
		return {seconds, bytes};
	};
	const snapdeck = (args, repo) =>
		run(BIN, [...args], {SNAPDECK_CONNECT: URI, SNAPDECK_REPO: repo, SNAPDECK_CONFIG_DIR: path.join(root, 'config')});
	const ours = measure('snapdeck backup --full (zstd)', dir => snapdeck(['backup', domain, '--full'], dir));
	const plain = measure('snapdeck backup --full --no-compress', dir =>
		snapdeck(['backup', domain, '--full', '--no-compress'], dir),
	);
	// -l copy: a full without checkpoints, so snapdeck's checkpoint does not stop it ("Foreign checkpoint found").
	const theirs = measure('virtnbdbackup -l copy -z (lz4)', dir =>
		run('virtnbdbackup', ['-d', domain, '-l', 'copy', '-z', '-o', dir, '--noprogress']),
	);
	const theirsPlain = measure('virtnbdbackup -l copy', dir =>
		run('virtnbdbackup', ['-d', domain, '-l', 'copy', '-o', dir, '--noprogress']),
	);
	report({
		name: `8. full backup, running 2-disk libvirt domain, ${mib(data)} of data, compressed`,
		figure: `${ours.seconds.toFixed(2)} s, ${mib(ours.bytes)}`,
		baseline: `virtnbdbackup -z: ${theirs.seconds.toFixed(2)} s, ${mib(theirs.bytes)}; uncompressed: snapdeck ${plain.seconds.toFixed(2)} s ${mib(plain.bytes)}, virtnbdbackup ${theirsPlain.seconds.toFixed(2)} s ${mib(theirsPlain.bytes)}`,
		ratio: `${(theirs.seconds / ours.seconds).toFixed(2)}x its speed, ${(ours.bytes / theirs.bytes).toFixed(2)}x its bytes`,
		target: 'at least 1.0x virtnbdbackup -z speed',
		met: theirs.seconds / ours.seconds >= 1,
	});
	virsh('destroy', '--domain', domain);
	virsh('undefine', '--domain', domain, '--checkpoints-metadata');

	// B. Off-site: a local VM, backed up, copied; 1% of the disk changed, backed up, copied again.
	const lab = path.join(root, 'lab');
	mkdirSync(path.join(lab, 'vm1'), {recursive: true});
	const disk = path.join(lab, 'vm1', 'vda.qcow2');
	run('qemu-img', ['create', '-q', '-f', 'qcow2', disk, `${DISK_MIB}M`]);
	fill(disk);
	writeFileSync(
		path.join(lab, 'vm1', 'vm.json'),
		JSON.stringify({
			version: 1,
			name: 'vm1',
			disks: [{target: 'vda', file: 'vda.qcow2'}],
			current: null,
			snapshots: [],
		}),
	);
	const password = path.join(root, 'password');
	writeFileSync(password, 'bench\n');
	const env = {
		SNAPDECK_CONNECT: `local:${lab}`,
		SNAPDECK_REPO: path.join(root, 'repo'),
		SNAPDECK_CONFIG_DIR: path.join(root, 'config'),
		RESTIC_PASSWORD_FILE: password,
	};
	const cli = (...args) =>
		JSON.parse(
			run(BIN, [...args, '--json'], env)
				.trim()
				.split('\n')
				.at(-1),
		);
	const restic = (repo, args, input) => run('restic', ['-r', repo, ...args], {RESTIC_PASSWORD_FILE: password}, input);
	const added = output =>
		JSON.parse(
			output
				.trim()
				.split('\n')
				.find(line => line.includes('"summary"')),
		).data_added;
	const changedMiB = Math.max(1, Math.round(DISK_MIB / 100));
	// New random data (not bytes the disk already holds, which restic would find again).
	const fresh = path.join(root, 'fresh.bin');
	run('dd', ['if=/dev/urandom', `of=${fresh}`, 'bs=1M', `count=${changedMiB}`, 'status=none']);
	const change = () =>
		run('qemu-io', [
			'-f',
			'qcow2',
			'-c',
			`write -s ${fresh} ${(FILES_MIB + RANDOM_MIB + 1) * MiB} ${changedMiB * MiB}`,
			disk,
		]);

	const full = cli('backup', 'vm1').point;
	const target = path.join(root, 'offsite');
	// Made beforehand, as for the baselines: restic init is not part of a copy's time.
	restic(target, ['init', '-q']);
	const first = timed(() => cli('copy', 'vm1', '--target', target));
	change();
	cli('backup', 'vm1');
	const second = timed(() => cli('copy', 'vm1', '--target', target));
	console.log(
		`snapdeck copy, first: ${first.seconds.toFixed(2)} s, ${mib(first.value.uploaded)} added; after ${changedMiB} MiB changed: ${second.seconds.toFixed(2)} s, ${mib(second.value.uploaded)} added`,
	);

	// Baselines: plain restic of the same full point file; and the raw-stream layout (restic --stdin of each point read whole).
	const pointFile = path.join(root, 'repo', 'vm1', full.files[0].file);
	const plainRepo = path.join(root, 'plain-restic');
	restic(plainRepo, ['init', '-q']);
	const plainCopy = timed(() => added(restic(plainRepo, ['backup', '--json', pointFile])));
	const rawRepo = path.join(root, 'raw-restic');
	restic(rawRepo, ['init', '-q']);
	const rawOf = file => {
		const raw = path.join(root, 'stream.raw');
		run('qemu-img', ['convert', '-U', '-O', 'raw', file, raw]);
		return raw;
	};
	const rawFirst = timed(() =>
		added(
			run('bash', ['-c', `restic -r ${rawRepo} backup --json --stdin --stdin-filename vda.raw < ${rawOf(pointFile)}`], {
				RESTIC_PASSWORD_FILE: password,
			}),
		),
	);
	const rawSecond = timed(() =>
		added(
			run('bash', ['-c', `restic -r ${rawRepo} backup --json --stdin --stdin-filename vda.raw < ${rawOf(disk)}`], {
				RESTIC_PASSWORD_FILE: password,
			}),
		),
	);
	console.log(
		`plain restic backup of the full point file: ${plainCopy.seconds.toFixed(2)} s, ${mib(plainCopy.value)} added`,
	);
	console.log(
		`raw stream per disk (qemu-img convert -O raw, restic --stdin): first ${rawFirst.seconds.toFixed(2)} s ${mib(rawFirst.value)} added, second ${rawSecond.seconds.toFixed(2)} s ${mib(rawSecond.value)} added`,
	);
	report({
		name: `9. off-site copy (restic), local VM, ${mib((FILES_MIB + RANDOM_MIB) * MiB)} of data`,
		figure: `first ${mib(first.value.uploaded)} in ${first.seconds.toFixed(2)} s; after 1% changed ${mib(second.value.uploaded)} in ${second.seconds.toFixed(2)} s`,
		baseline: `plain restic of the point file: ${plainCopy.seconds.toFixed(2)} s; raw stream per disk: ${rawFirst.seconds.toFixed(2)} s then ${rawSecond.seconds.toFixed(2)} s (${mib(rawSecond.value)} added)`,
		ratio: `second copy ${((second.value.uploaded / first.value.uploaded) * 100).toFixed(1)}% of the first's bytes; first copy ${(first.seconds / plainCopy.seconds).toFixed(2)}x plain restic's time`,
	});
} finally {
	cleanup();
}
