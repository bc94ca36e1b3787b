import {readdir, readFile, rm} from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import {SnapdeckError} from '../../core/errors.js';
import {processAlive} from '../file-checks.js';
import type {CommandRunner} from '../exec.js';
import {stateDir} from '../state/operation-store.js';
import {assertOwnQemu} from '../qemu/block-view.js';
import {QmpClient} from '../qemu/qmp-client.js';
import type {QemuConfig, VmFile} from './vm-file.js';

/** QEMU's -blockdev option syntax: a comma inside a value is written twice. */
const optionValue = (value: string) => value.replaceAll(',', ',,');

export const qmpPath = (folder: string, vm: VmFile) => (vm.qmp === null ? null : path.resolve(folder, vm.qmp));
const pidFile = (folder: string) => path.join(stateDir(folder), 'qemu.pid');

/** Whether the QEMU snapdeck started for the VM in `folder` is alive; null when snapdeck did not start it (no pid file). */
async function qemuAlive(folder: string): Promise<boolean | null> {
	const pid = Number((await readFile(pidFile(folder), 'utf8').catch(() => '')).trim()) || null;
	return pid === null ? null : processAlive(pid);
}

/**
 * The running QEMU's monitor, or null when nothing answers there (a stale socket: the VM is
 * stopped). A QEMU that is alive but does not take the connection (another client holds its
 * monitor, its connect queue is full) is tried again until `withinMs` has passed, and never taken
 * for a stopped VM: the offline path would then work on images a running QEMU holds, and a stop
 * would kill it instead of asking it to quit. One time budget for every wait: a greeting waited
 * for in vain, a full queue and the pauses between tries.
 */
export async function connectMonitor(
	folder: string,
	socket: string,
	greetMs = 5000,
	withinMs = 8000,
): Promise<QmpClient | null> {
	const deadline = Date.now() + withinMs;
	for (let attempt = 1; ; attempt++) {
		const left = deadline - Date.now();
		try {
			return await QmpClient.connect(socket, Math.max(200, Math.min(greetMs, left)), Math.max(0, left));
		} catch (error) {
			const busy = error instanceof SnapdeckError && error.code === 'busy';
			// Refused while the QEMU snapdeck started is alive: it was not ready for a moment.
			if (!busy && (await qemuAlive(folder)) !== true) return null;
			const pause = 200 * attempt;
			if (Date.now() + pause >= deadline) throw error;
			await new Promise(resolve => setTimeout(resolve, pause));
		}
	}
}

/**
 * Whether a QEMU listens on the VM's QMP socket, i.e. runs it. Only a socket that is not there, or
 * that nothing listens on, means stopped: anything else (a full backlog, no answer in time) counts
 * as running, since taking a running VM for a stopped one would have snapdeck write its images
 * behind QEMU's back. (A 500 ms timer used to decide "stopped" when the event loop was busy for
 * that long: the timer ran before the connect that had already succeeded; seen under load, as a
 * live merge planned as an offline one.)
 */
export const socketAnswers = (socket: string) =>
	new Promise<boolean>(resolve => {
		const connection = net.connect(socket);
		const done = (answer: boolean) => {
			connection.destroy();
			resolve(answer);
		};
		connection.once('connect', () => done(true));
		connection.once('error', (error: NodeJS.ErrnoException) =>
			done(!['ECONNREFUSED', 'ENOENT', 'ENOTSOCK', 'ENOTDIR'].includes(error.code ?? '')),
		);
		connection.setTimeout(5000, () => done(true));
	});

/** The guest device path of a disk, as QMP names it and as HMP's qemu-io -d takes it. */
export const qdevPath = (target: string) => `/machine/peripheral/${target}/virtio-backend`;

/** The QEMU command line for a VM as it is now: its recorded settings and its active images. */
export function qemuArgs(folder: string, vm: VmFile): string[] {
	const qmp = qmpPath(folder, vm);
	if (!vm.qemu || qmp === null)
		throw new SnapdeckError(
			'refused',
			`${vm.name} has no "qemu" and "qmp" in its vm.json, so snapdeck cannot start it`,
			'see "vm.json" in the README',
		);
	return [
		...machineArgs(
			folder,
			vm.name,
			vm.qemu,
			Object.fromEntries(vm.disks.map(disk => [disk.target, path.resolve(folder, disk.file)])),
		),
		'-qmp',
		`unix:${optionValue(qmp)},server=on,wait=off`,
		'-daemonize',
		'-pidfile',
		pidFile(folder),
		...vm.qemu.args,
	];
}

/**
 * The machine part of a QEMU command line: machine, memory, accelerator, the kernel to boot, the
 * disks (images by target), the guest agent's port, the serial console, the display. Files of the
 * config are relative to `folder`. Used for the VM itself and for a throwaway copy of it (a boot test).
 */
export function machineArgs(
	folder: string,
	name: string,
	qemu: QemuConfig,
	disks: Readonly<Record<string, string>>,
	throwaway: {agent: string; console: string; kernelFiles?: Readonly<Record<string, string>>} | null = null,
): string[] {
	// A throwaway copy does not reboot: a guest that resets or panics ends the test.
	const args = [
		'-name',
		name,
		'-machine',
		`${qemu.machine},accel=${qemu.accel}`,
		'-m',
		String(qemu.memoryMiB),
		'-nodefaults',
		'-display',
		'none',
		...(throwaway ? ['-no-reboot'] : []),
	];
	if (qemu.kernel) {
		// A throwaway copy boots the kernel files it is given (a point's own), by the names vm.json gives them.
		const file = (name: string) => throwaway?.kernelFiles?.[name] ?? path.resolve(folder, name);
		args.push(
			'-kernel',
			file(qemu.kernel.file),
			...(qemu.kernel.initrd ? ['-initrd', file(qemu.kernel.initrd)] : []),
			'-append',
			qemu.kernel.append,
		);
	}
	for (const [target, image] of Object.entries(disks)) {
		args.push(
			'-blockdev',
			`driver=file,filename=${optionValue(image)},node-name=file-${target}`,
			'-blockdev',
			`driver=qcow2,file=file-${target},node-name=${target}-0`,
			'-device',
			`virtio-blk-pci,drive=${target}-0,id=${target}`,
		);
	}
	const agent = throwaway?.agent ?? (qemu.agent ? path.resolve(folder, qemu.agent) : null);
	if (agent)
		args.push(
			'-chardev',
			`socket,id=agent,path=${optionValue(agent)},server=on,wait=off`,
			'-device',
			'virtio-serial',
			'-device',
			'virtserialport,chardev=agent,name=org.qemu.guest_agent.0',
		);
	const console = throwaway?.console ?? (qemu.console ? path.resolve(folder, qemu.console) : null);
	if (console) args.push('-serial', `file:${optionValue(console)}`);
	if (qemu.display) args.push('-device', 'VGA');
	return args;
}

export async function startVm(folder: string, vm: VmFile, runner: CommandRunner): Promise<void> {
	const args = qemuArgs(folder, vm);
	await rm(qmpPath(folder, vm)!, {force: true});
	await runner.run('qemu-system-x86_64', args);
}

/**
 * The QEMUs that run this VM: the one its pid file names, and any qemu-system process whose
 * command line serves its pid file or its QMP socket (found in /proc, so that a QEMU whose pid file
 * was lost or replaced is not taken for gone).
 */
async function qemuPidsOf(folder: string, qmp: string | null): Promise<Set<number>> {
	const pids = new Set<number>();
	const fromFile = Number((await readFile(pidFile(folder), 'utf8').catch(() => '')).trim()) || null;
	if (fromFile !== null && (await processAlive(fromFile))) pids.add(fromFile);
	const socket = qmp === null ? null : `unix:${optionValue(qmp)},`;
	for (const entry of await readdir('/proc').catch(() => [] as string[])) {
		if (!/^\d+$/.test(entry)) continue;
		const argv = (await readFile(`/proc/${entry}/cmdline`, 'utf8').catch(() => '')).split('\0');
		if (!/qemu-system/.test(path.basename(argv[0] ?? ''))) continue;
		const ours = argv.some(
			(arg, index) =>
				(arg === '-pidfile' && argv[index + 1] === pidFile(folder)) ||
				(socket !== null && arg === '-qmp' && (argv[index + 1] ?? '').startsWith(socket)),
		);
		if (ours && (await processAlive(Number(entry)))) pids.add(Number(entry));
	}
	return pids;
}

const aliveOf = async (pids: ReadonlySet<number>) =>
	(await Promise.all([...pids].map(async pid => ((await processAlive(pid)) ? [pid] : [])))).flat();

/** Waits up to `ms` for every one of `pids` to be gone; the ones still alive. */
async function waitGone(pids: ReadonlySet<number>, ms: number): Promise<number[]> {
	for (let waited = 0; ; waited += 20) {
		const alive = await aliveOf(pids);
		if (alive.length === 0 || waited >= ms) return alive;
		await new Promise(resolve => setTimeout(resolve, 20));
	}
}

/**
 * Stops the VM's QEMU at once (QMP quit, like pulling the power) and waits until it is gone: it
 * says stopped only once no QEMU of the VM runs (found by its pid file and, in /proc, by its pid
 * file or QMP socket on its command line). QMP serves one client at a time: a caller that holds
 * the connection passes it in. Where the monitor does not answer within 5 s (another client holds
 * it, QEMU is too busy to greet), SIGTERM asks QEMU for the same quit; SIGKILL if it is still
 * there 5 s later.
 */
export async function stopVm(
	folder: string,
	vm: VmFile,
	connected?: QmpClient,
): Promise<'quit' | 'SIGTERM' | 'SIGKILL' | 'gone'> {
	const qmp = qmpPath(folder, vm);
	const pids = await qemuPidsOf(folder, qmp);
	const client = connected ?? (qmp === null ? null : await connectMonitor(folder, qmp, 2000, 5000).catch(() => null));
	if (client && !connected) {
		// Never quit another VM's QEMU because this vm.json names its socket.
		await assertOwnQemu(client, folder, vm.name).catch(error => {
			client.close();
			throw error;
		});
	}
	const quit = client
		? await client.execute('quit', undefined, {timeoutMs: 2000}).then(
				() => true,
				() => false,
			)
		: false;
	if (client) client.close();
	if (!quit && pids.size === 0) {
		throw new SnapdeckError(
			'failed',
			`cannot stop ${vm.name}: its QEMU's monitor (${qmp ?? 'none'}) did not answer, and no QEMU process of it was found`,
			'try again in a moment; if it still hangs, stop that QEMU yourself',
		);
	}
	let how: 'quit' | 'SIGTERM' | 'SIGKILL' | 'gone' = quit ? 'quit' : 'gone';
	if (!quit) {
		for (const pid of await aliveOf(pids)) {
			process.kill(pid, 'SIGTERM');
			how = 'SIGTERM';
		}
	}
	const outlived = await waitGone(pids, 5000);
	for (const pid of outlived) {
		process.kill(pid, 'SIGKILL');
		how = 'SIGKILL';
	}
	const left = await waitGone(pids, 5000);
	if (left.length > 0)
		throw new SnapdeckError(
			'failed',
			`${vm.name}'s QEMU (pid ${left.join(', ')}) still runs after quit, SIGTERM and SIGKILL`,
			'it may be stuck in the kernel (an unresponsive storage mount): check it with ps and /proc, then try again',
		);
	await rm(pidFile(folder), {force: true});
	if (qmp !== null) await rm(qmp, {force: true});
	return how;
}
