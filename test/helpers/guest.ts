import {execFileSync} from 'node:child_process';
import {GuestAgent} from '../../source/adapters/guest-agent.js';
import {snapdeck} from './cli.js';
import {copyFile, mkdir, readFile} from 'node:fs/promises';
import path from 'node:path';
import {LocalHypervisor} from '../../source/adapters/local/local-hypervisor.js';
import {writeVmFile, type VmFile} from '../../source/adapters/local/vm-file.js';
import {sessionPorts} from '../../source/service/session-ports.js';
import {qemuImg, tempDir} from './lab.js';
import {afterEachTest} from './cleanup.js';

let built: string | null = null;

/** The real Linux guest (scripts/build-guest.mjs: Debian's kernel, busybox, qemu-guest-agent), built once and cached. */
export function guestImage(): string {
	built ??= execFileSync(process.execPath, ['scripts/build-guest.mjs'], {encoding: 'utf8'}).trim().split('\n').at(-1)!;
	return built;
}

/**
 * A lab with one stopped local VM that boots the real guest: its kernel and initramfs in its
 * folder, its root filesystem as its disk (vda), its agent and console in its folder. Software
 * emulation (accel tcg): a stock kernel hangs under this machine's kvm-pvm (LAB.md).
 */
export async function guestLab(name = 'g1') {
	const image = guestImage();
	const root = await tempDir();
	const repo = await tempDir();
	const folder = path.join(root, name);
	await mkdir(folder);
	await copyFile(path.join(image, 'vmlinuz'), path.join(folder, 'vmlinuz'));
	await copyFile(path.join(image, 'initrd'), path.join(folder, 'initrd'));
	await qemuImg.convert(path.join(image, 'root.qcow2'), path.join(folder, 'vda.qcow2'));
	const vm: VmFile = {
		version: 1,
		name,
		description: 'the real Linux guest of the tests',
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
			kernel: {file: 'vmlinuz', initrd: 'initrd', append: 'console=tty0 console=ttyS0 panic=-1'},
			agent: 'agent.sock',
			console: 'console.log',
			display: false,
		},
	};
	await writeVmFile(folder, vm);
	const hypervisor = new LocalHypervisor(root);
	return {
		root,
		repo,
		folder,
		name,
		hypervisor,
		service: sessionPorts(hypervisor, {repository: repo}),
		disk: path.join(folder, 'vda.qcow2'),
		console: () => readFile(path.join(folder, 'console.log'), 'utf8').catch(() => ''),
	};
}

const started: Array<() => Promise<unknown>> = [];
// After each test: the guests it started are stopped, even when it failed.
afterEachTest('guests', 2, async () => {
	for (const stop of started.splice(0)) await stop();
});

/** Waits until the guest's agent answers on `socket`, and returns a connection to it. */
export async function agentOf(socket: string, timeoutMs = 90_000): Promise<GuestAgent> {
	const deadline = Date.now() + timeoutMs;
	for (;;) {
		const agent = await GuestAgent.connect(socket, 2000).catch(() => null);
		if (agent) return agent;
		if (Date.now() > deadline) throw new Error(`no guest agent on ${socket}`);
		await new Promise(resolve => setTimeout(resolve, 500));
	}
}

/** Stops VM `name` of the lab at `root` after the test (one a test started some other way). */
export const stopAfterTest = (root: string, name: string) =>
	started.push(() => snapdeck(['stop', name, '--connect', `local:${root}`]));

/** Starts a guest lab's VM with `snapdeck start` (stopped again after the test). */
export async function startGuest(lab: {root: string; name: string}) {
	const connect = ['--connect', `local:${lab.root}`];
	const result = await snapdeck(['start', lab.name, ...connect]);
	if (result.exitCode !== 0) throw new Error(`snapdeck start ${lab.name}: ${result.stderr}`);
	const stop = () => snapdeck(['stop', lab.name, ...connect]);
	started.push(stop);
	return {
		/** Stops it now (a guest left idle still costs CPU under software emulation); then not again after the test. */
		stop: async () => {
			started.splice(started.indexOf(stop), 1);
			const stopped = await stop();
			if (stopped.exitCode !== 0) throw new Error(`snapdeck stop ${lab.name}: ${stopped.stderr}`);
		},
	};
}

/** The newest record the guest's workload acknowledged as durable on its console ("durable N"); 0 before any. */
export const lastDurable = (console: string) =>
	Math.max(0, ...[...console.matchAll(/^durable (\d+)\r?$/gm)].map(match => Number(match[1])));

/**
 * The workload's records (4 KiB blocks written with O_DIRECT) in a disk image (any qcow2 chain), read as the guest would after a crash:
 * a copy of the filesystem, its journal replayed (e2fsck -fy), then /data/records. Each record's
 * checksum is checked; `seqs` are the good ones, `bad` the lines that are not a good record.
 */
export async function recordsIn(image: string): Promise<{seqs: number[]; bad: string[]}> {
	const {execa} = await import('execa');
	const {createHash} = await import('node:crypto');
	const raw = path.join(await tempDir(), 'records.raw');
	await execa('qemu-img', ['convert', '-U', '-O', 'raw', image, raw]);
	await execa('e2fsck', ['-fy', raw], {reject: false});
	const {stdout} = await execa('debugfs', ['-R', 'cat /data/records', raw]);
	const seqs: number[] = [];
	const bad: string[] = [];
	// One 4 KiB block a record: its text, padded with spaces, then a newline.
	for (const line of stdout.split('\n').filter(Boolean)) {
		const [seq, time, sum] = line.trim().split(' ');
		const good = sum === createHash('sha256').update(`${seq} ${time}\n`).digest('hex').slice(0, 16);
		if (good) seqs.push(Number(seq));
		else bad.push(line);
	}
	return {seqs, bad};
}

/** Whether `seqs` holds every record from 1 to `upTo`. */
export const holdsAll = (seqs: readonly number[], upTo: number) => {
	const present = new Set(seqs);
	for (let seq = 1; seq <= upTo; seq++) if (!present.has(seq)) return false;
	return true;
};
