import {existsSync} from 'node:fs';
import {readdir, readFile, rm} from 'node:fs/promises';
import path from 'node:path';
import type {ResultPromise} from 'execa';
import {SnapdeckError} from '../../core/errors.js';
import {loadExeca, toolMissing, toolPath} from '../exec.js';
import {judgeBoot, socketAgent, tail} from '../boot-check.js';
import type {BootCheck, BootOptions, BootResult} from '../hypervisor.js';
import {machineArgs} from './qemu-process.js';
import {QmpClient} from '../qemu/qmp-client.js';
import {VmFile, type QemuConfig} from './vm-file.js';

const sleep = (ms: number) => new Promise(resolve => setTimeout(resolve, ms));

/**
 * Boots a throwaway copy of a VM (`definition`: its vm.json as a backup point recorded it) on
 * `disks` (overlays the caller made on the point), isolated: its own name, no network, its own
 * agent, console and monitor sockets in `work`, never rebooting. Passes when the guest proves it is
 * up (the console pattern; else the agent answers, and the check command, if any, succeeds through
 * it); fails when the VM stops, or at the timeout. Takes a screenshot, then stops the VM, always.
 */
export async function bootThrowaway(
	folder: string,
	definition: unknown,
	disks: Readonly<Record<string, string>>,
	work: string,
	check: BootCheck,
	options: BootOptions = {},
): Promise<BootResult> {
	const {signal} = options;
	const {vm, qemu: config} = pointVm(definition);
	const own = pointKernelFiles(vm.name, config, options);
	const files = {
		agent: path.join(work, 'agent.sock'),
		console: path.join(work, 'console.log'),
		qmp: path.join(work, 'qmp.sock'),
	};
	// Its name carries the job's token: recover finds it by that after a kill (removeThrowaway), and nothing else.
	const name = `${vm.name}-boottest${options.throwaway ? `-${options.throwaway.token}` : ''}`;
	await options.throwaway?.register(name);
	const args = [
		...machineArgs(folder, name, config, disks, {agent: files.agent, console: files.console, kernelFiles: own}),
		...(config.display ? [] : ['-device', 'VGA']),
		'-qmp',
		`unix:${files.qmp},server=on,wait=off`,
	];
	const began = performance.now();
	const {qemu, setpriv} = await launchQemu(args);
	let exited = false;
	void qemu.then(() => (exited = true));
	options.onStarted?.();
	const seconds = () => (performance.now() - began) / 1000;
	const consoleText = () => readFile(files.console, 'utf8').catch(() => '');
	try {
		const verdict = await judgeBoot({
			readConsole: consoleText,
			agent: socketAgent(files.agent),
			check,
			signal,
			stopped: async () => {
				if (!exited) return null;
				const result = await qemu;
				// QEMU could not be started at all: nothing about the point was learned, and no verdict is recorded.
				if ((result as {code?: string}).code === 'ENOENT' || (setpriv && result.exitCode === 127))
					throw toolMissing('qemu-system-x86_64');
				return result.exitCode === 0
					? 'the guest powered off or reset'
					: `QEMU: ${tail(result.stderr, 3) || `exit ${result.exitCode}`}`;
			},
		});
		const screenshot = exited ? null : await screendump(files.qmp, path.join(work, 'screen.png'));
		return {...verdict, seconds: seconds(), console: await consoleText(), screenshot};
	} finally {
		await stop(files.qmp, qemu);
		await rm(files.qmp, {force: true});
		await rm(files.agent, {force: true});
	}
}

/** The vm.json a point recorded, with the "qemu" settings a copy of the VM starts from. */
function pointVm(definition: unknown): {vm: VmFile; qemu: QemuConfig} {
	const parsed = VmFile.safeParse(definition);
	const qemu = parsed.success ? parsed.data.qemu : null;
	if (!parsed.success || qemu === null) {
		throw new SnapdeckError(
			'refused',
			'the point records no "qemu" settings for the VM, so snapdeck cannot start a copy of it',
			'give the VM a "qemu" section in its vm.json (see the README); points taken after that can be boot-tested',
		);
	}
	return {vm: parsed.data, qemu};
}

/** The kernel and initramfs the point holds, never those of the live VM's folder (which prove nothing about the point). */
function pointKernelFiles(vm: string, qemu: QemuConfig, options: BootOptions): Readonly<Record<string, string>> {
	const kernel = qemu.kernel;
	const own = options.bootFiles ?? {};
	const missing = kernel
		? [kernel.file, ...(kernel.initrd ? [kernel.initrd] : [])].filter(name => own[name] === undefined)
		: [];
	if (missing.length > 0)
		throw new SnapdeckError(
			'refused',
			`the point does not hold ${missing.join(' and ')}, which ${vm} boots (it was taken before snapdeck kept a VM's kernel and initramfs with its points): booting the live folder's would prove nothing about the point`,
			'take a new backup and boot-test that; no verdict was recorded',
		);
	return own;
}

/**
 * Starts the throwaway's QEMU. Under setpriv, the kernel kills the throwaway VM when snapdeck
 * dies, even by SIGKILL: a boot test never leaves a VM running behind it (its overlays go at the
 * next boot test of the point).
 */
async function launchQemu(args: readonly string[]) {
	const setpriv = existsSync('/usr/bin/setpriv');
	const {execa} = await loadExeca();
	const qemu = setpriv
		? execa('/usr/bin/setpriv', ['--pdeathsig', 'KILL', '--', toolPath('qemu-system-x86_64'), ...args], {
				reject: false,
				stdin: 'ignore',
				cleanup: true,
			})
		: execa(toolPath('qemu-system-x86_64'), args, {reject: false, stdin: 'ignore', cleanup: true});
	return {qemu, setpriv};
}

/** A PNG of the VM's display (QMP screendump); null when there is none. */
async function screendump(qmp: string, file: string): Promise<Buffer | null> {
	const client = await QmpClient.connect(qmp, 3000).catch(() => null);
	if (!client) return null;
	try {
		await client.execute('screendump', {filename: file, format: 'png'}, {timeoutMs: 5000});
		return await readFile(file);
	} catch {
		return null;
	} finally {
		client.close();
	}
}

/** Stops the throwaway VM: QMP quit, else SIGKILL; waits until it is gone. */
async function stop(qmp: string, qemu: ResultPromise) {
	if (qemu.exitCode === null && qemu.signalCode === null) {
		const client = await QmpClient.connect(qmp, 2000).catch(() => null);
		if (client) {
			await client.execute('quit', undefined, {timeoutMs: 2000}).catch(() => undefined);
			client.close();
		}
		const gone = await Promise.race([qemu.then(() => true), sleep(3000).then(() => false)]);
		if (!gone) qemu.kill('SIGKILL');
	}
	await qemu;
}

/**
 * Kills the throwaway QEMU of a killed boot test, found by its name (`-name VM-boottest-TOKEN`,
 * which carries the job's token) among this host's processes; nothing else is ever signalled.
 */
export async function removeThrowawayQemu(name: string, token: string): Promise<{removed?: string; left?: string}> {
	if (!name.endsWith(`-boottest-${token}`))
		return {left: `throwaway VM ${name}: its name does not carry the job's token`};
	for (const pid of await readdir('/proc').catch(() => [] as string[])) {
		if (!/^\d+$/.test(pid)) continue;
		const argv = (await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '')).split('\0');
		const at = argv.indexOf('-name');
		if (at < 0 || argv[at + 1] !== name || !/qemu-system/.test(path.basename(argv[0] ?? ''))) continue;
		try {
			process.kill(Number(pid), 'SIGKILL');
		} catch {
			continue;
		}
		return {removed: `the throwaway VM ${name} (QEMU pid ${pid})`};
	}
	return {};
}
