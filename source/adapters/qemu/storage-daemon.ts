import {randomBytes} from 'node:crypto';
import {mkdir, readFile, rm, stat} from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import {processAlive} from '../file-checks.js';
import {SnapdeckError} from '../../core/errors.js';
import {CommandFailed, startCompanion, type Companion} from '../exec.js';
import {stateDir} from '../state/operation-store.js';
import {QmpClient} from './qmp-client.js';
import {optionValue} from './qemu-img.js';

const pidFileOf = (folder: string) => path.join(stateDir(folder), 'storage-daemon.pid');

async function waitGone(pid: number, ms: number): Promise<boolean> {
	for (let waited = 0; waited < ms; waited += 50) {
		if (!(await processAlive(pid))) return true;
		await new Promise(resolve => setTimeout(resolve, 50));
	}
	return !(await processAlive(pid));
}

/**
 * Stops a qemu-storage-daemon an earlier, interrupted run left on this VM's images. SIGTERM makes
 * it close its images cleanly, persistent dirty bitmaps included.
 */
export async function stopStaleDaemon(folder: string): Promise<void> {
	const pidFile = pidFileOf(folder);
	const pid = Number((await readFile(pidFile, 'utf8').catch(() => '')).trim());
	if (pid > 0 && (await processAlive(pid))) {
		const comm = (await readFile(`/proc/${pid}/comm`, 'utf8').catch(() => '')).trim();
		if (comm.startsWith('qemu-storage')) {
			process.kill(pid, 'SIGTERM');
			if (!(await waitGone(pid, 10_000))) process.kill(pid, 'SIGKILL');
		}
	}
	await rm(pidFile, {force: true});
}

/** Connects to the daemon's QMP socket once it listens; fails with its own words if it exits first. */
async function untilListening(socket: string, daemon: Companion): Promise<QmpClient> {
	const ended: {result?: {code: number | null; words: string}; error?: Error} = {};
	daemon.exited.then(
		result => (ended.result = result),
		(error: Error) => (ended.error = error),
	);
	for (let waited = 0; ; waited += 10) {
		if (ended.error) throw ended.error;
		if (ended.result)
			throw new CommandFailed('qemu-storage-daemon', [], ended.result.code ?? -1, ended.result.words, '');
		if (waited >= 10_000)
			throw new SnapdeckError('failed', `qemu-storage-daemon did not open its QMP socket ${socket} within 10 s`);
		if (
			await stat(socket).then(
				() => true,
				() => false,
			)
		) {
			try {
				return await QmpClient.connect(socket);
			} catch {
				// Bound but not accepting yet: try again.
			}
		}
		await new Promise(resolve => setTimeout(resolve, 10));
	}
}

export interface StorageDaemon {
	readonly client: QmpClient;
	/** Each disk's qcow2 node, by target. */
	readonly nodes: ReadonlyMap<string, string>;
	stop(): Promise<void>;
}

/**
 * Serves a stopped VM's active images over QMP with qemu-storage-daemon, so the jobs that back up
 * a running VM (blockdev-backup, dirty bitmaps) run the same way on a stopped one. `readOnly`: open
 * the images read-only (a backup that adds no bitmap needs no more); the daemon still holds QEMU's
 * image locks, so a VM cannot start on them, and be written, while it runs.
 */
export async function startStorageDaemon(
	folder: string,
	disks: readonly {target: string; file: string}[],
	options: {readOnly?: boolean} = {},
): Promise<StorageDaemon> {
	await stopStaleDaemon(folder);
	await mkdir(stateDir(folder), {recursive: true});
	// A unix socket path must fit in 108 bytes, which a VM folder deep in a tree may not.
	const socket = path.join(os.tmpdir(), `snapdeck-qsd-${process.pid}-${randomBytes(4).toString('hex')}.sock`);
	const pidFile = pidFileOf(folder);
	const args: string[] = [];
	const nodes = new Map<string, string>();
	const readOnly = options.readOnly ? ',read-only=on' : '';
	for (const disk of disks) {
		const node = `${disk.target}-0`;
		nodes.set(disk.target, node);
		args.push(
			'--blockdev',
			`driver=file,filename=${optionValue(path.resolve(folder, disk.file))},node-name=file-${disk.target}${readOnly}`,
			'--blockdev',
			`driver=qcow2,file=file-${disk.target},node-name=${node}${readOnly}`,
		);
	}
	args.push(
		'--chardev',
		`socket,path=${optionValue(socket)},server=on,wait=off,id=qmp0`,
		'--monitor',
		'chardev=qmp0',
		'--pidfile',
		pidFile,
	);
	// Not --daemonize: as snapdeck's own child it is stopped by the kernel if snapdeck dies.
	const daemon = await startCompanion('qemu-storage-daemon', args);
	let client: QmpClient;
	try {
		client = await untilListening(socket, daemon);
	} catch (error) {
		try {
			if (daemon.pid > 0) process.kill(daemon.pid, 'SIGTERM');
		} catch {
			// It has exited already (that may be why we are here).
		}
		await daemon.exited.catch(() => undefined);
		await rm(pidFile, {force: true});
		await rm(socket, {force: true});
		throw error;
	}
	return {
		client,
		nodes,
		async stop() {
			await client.execute('quit').catch(() => undefined);
			await Promise.race([client.closed(), new Promise(resolve => setTimeout(resolve, 5000).unref())]);
			client.close();
			if (daemon.pid > 0 && !(await waitGone(daemon.pid, 10_000))) process.kill(daemon.pid, 'SIGKILL');
			await daemon.exited.catch(() => undefined);
			await rm(pidFile, {force: true});
			await rm(socket, {force: true});
		},
	};
}
