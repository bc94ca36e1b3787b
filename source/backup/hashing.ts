import {createHash} from 'node:crypto';
import {createReadStream} from 'node:fs';
import {stat} from 'node:fs/promises';

/**
 * Hashes a file in a thread of its own: several files (a backup's disks) are hashed at once on as
 * many cores, and the main thread (the UI, progress over SSH) is not held by the hashing. It posts
 * the bytes it has read every 16 MiB.
 */
const HASH_WORKER = `
const {parentPort, workerData} = require('node:worker_threads');
const {createHash} = require('node:crypto');
const {openSync, readSync, closeSync} = require('node:fs');
const hash = createHash('sha256');
const fd = openSync(workerData.file, 'r');
const buffer = Buffer.allocUnsafe(1 << 20);
let unreported = 0;
try {
	for (let read; (read = readSync(fd, buffer, 0, buffer.length, null)) > 0;) {
		hash.update(buffer.subarray(0, read));
		unreported += read;
		if (unreported >= 16 << 20) parentPort.postMessage({bytes: unreported}), (unreported = 0);
	}
} finally {
	closeSync(fd);
}
parentPort.postMessage({bytes: unreported, sha256: hash.digest('hex')});
`;

/** Files smaller than this are hashed on the main thread: a thread's start (tens of ms) would cost more than it saves. */
const HASH_IN_THREAD_BYTES = 64 << 20;

/** `onBytes`: told how many bytes each read brought, for progress. */
export async function sha256File(
	file: string,
	signal?: AbortSignal,
	onBytes?: (bytes: number) => void,
): Promise<string> {
	signal?.throwIfAborted();
	if ((await stat(file)).size >= HASH_IN_THREAD_BYTES) return sha256InThread(file, signal, onBytes);
	const hash = createHash('sha256');
	for await (const chunk of createReadStream(file, {highWaterMark: 1 << 20, signal})) {
		hash.update(chunk as Buffer);
		onBytes?.((chunk as Buffer).length);
	}
	return hash.digest('hex');
}

function sha256InThread(file: string, signal?: AbortSignal, onBytes?: (bytes: number) => void): Promise<string> {
	// Loaded on first use: a process started from the startup snapshot (scripts/bundle.mjs) cannot
	// start threads if node:worker_threads was loaded while the snapshot was built, nor import().
	const {Worker} = process.getBuiltinModule('node:worker_threads');
	return new Promise((resolve, reject) => {
		const worker = new Worker(HASH_WORKER, {eval: true, workerData: {file}});
		let settled = false;
		const finish = (error: unknown, sha256?: string) => {
			if (settled) return;
			settled = true;
			signal?.removeEventListener('abort', abort);
			if (error) reject(error);
			else resolve(sha256!);
		};
		const abort = () => {
			void worker.terminate();
			finish(signal?.reason ?? new Error('cancelled'));
		};
		signal?.addEventListener('abort', abort, {once: true});
		worker.on('message', (message: {bytes: number; sha256?: string}) => {
			if (message.bytes > 0) onBytes?.(message.bytes);
			if (message.sha256 !== undefined) finish(null, message.sha256);
		});
		worker.on('error', error => finish(error));
		worker.on('exit', code => finish(new Error(`the hashing of ${file} stopped (exit ${code})`)));
	});
}
