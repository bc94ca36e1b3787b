import {mkdir, readFile, rm} from 'node:fs/promises';
import path from 'node:path';
import {z} from 'zod';
import {SnapdeckError} from '../../core/errors.js';
import {localHost} from '../host.js';
import {writeJsonAtomic} from '../state/atomic-file.js';
import {stateDir} from '../state/operation-store.js';
import type {LibvirtConnection} from './connection.js';
import {restoreDomain} from './domain-restore.js';

/** Where an instantly restored domain's restore is recorded, in snapdeck's state folder of the domain. */
const instantFile = (connection: LibvirtConnection, vm: string) =>
	path.join(stateDir(connection.folderOf(vm)), 'instant.json');

/**
 * A new domain whose disks are overlays (beside the original domain's images, as
 * NAME-<disk>.qcow2) on a backup point's files in the repository, its instant restore recorded
 * in snapdeck's state folder of the domain.
 */
export async function instantDomain(
	connection: LibvirtConnection,
	name: string,
	definition: unknown,
	backings: Readonly<Record<string, string>>,
	instant: {repository: string; point: string},
) {
	if (connection.host !== localHost)
		throw new SnapdeckError(
			'refused',
			`no instant restore onto a remote libvirt host (${connection.uri}): the new domain would read the repository on this machine across the network until its data is in, and a lost connection would fail its disk under the guest`,
			'restore with --as NAME (a full copy there), then start it',
		);
	const overlays = await restoreDomain(connection, name, definition, Object.keys(backings), (disk, target) =>
		connection.qemuImg.create(target, {backing: backings[disk]!}),
	);
	await mkdir(stateDir(connection.folderOf(name)), {recursive: true, mode: 0o700});
	await writeJsonAtomic(instantFile(connection, name), instant);
	return overlays;
}

/** The instant restore a domain is still in (the repository folder and point its disks read), or null. */
export async function domainInstant(
	connection: LibvirtConnection,
	vm: string,
): Promise<{repository: string; point: string} | null> {
	const text = await readFile(instantFile(connection, vm), 'utf8').catch(() => null);
	return text === null ? null : z.object({repository: z.string(), point: z.string()}).parse(JSON.parse(text));
}

/**
 * Pulls what an instantly restored domain still reads from the repository into its disks:
 * running, by virsh blockpull (waiting for a pull a killed snapdeck left running first);
 * stopped, offline with `qemu-img rebase -b ''` (safe mode), and it stays stopped. The caller
 * holds its lock.
 */
export async function finishInstantDomain(
	connection: LibvirtConnection,
	vm: string,
	options: {signal?: AbortSignal; onBytes?: (done: number, total: number) => void; bytesPerSecond?: number} = {},
): Promise<'running' | 'stopped' | 'nothing'> {
	if (!(await domainInstant(connection, vm))) return 'nothing';
	const running = /running|paused/.test(await connection.virsh.run(['domstate', '--domain', vm]));
	const {state} = await connection.inspect(vm);
	for (const disk of state.definition.disks) {
		if (running) {
			const active = () =>
				connection.virsh.run(['blockjob', '--domain', vm, '--path', disk.target, '--info']).then(
					text => /\d+ %|\[/.test(text),
					() => false,
				);
			while (await active()) {
				options.signal?.throwIfAborted();
				await new Promise(resolve => setTimeout(resolve, 250));
			}
		}
		if ((await connection.host.chain(disk.file)).chain.length <= 1) continue;
		if (!running) {
			await connection.qemuImg.rebase(disk.file, null, {signal: options.signal});
			continue;
		}
		const bandwidth = options.bytesPerSecond
			? ['--bandwidth', String(Math.max(1, Math.round(options.bytesPerSecond / (1024 * 1024))))]
			: [];
		const abort = () =>
			void connection.virsh.run(['blockjob', '--domain', vm, '--path', disk.target, '--abort']).catch(() => undefined);
		options.signal?.addEventListener('abort', abort, {once: true});
		try {
			await connection.virsh.run(['blockpull', '--domain', vm, '--path', disk.target, '--wait', ...bandwidth]);
		} finally {
			options.signal?.removeEventListener('abort', abort);
		}
		options.signal?.throwIfAborted();
	}
	for (const disk of (await connection.inspect(vm)).state.definition.disks) {
		if ((await connection.host.chain(disk.file)).chain.length > 1)
			throw new SnapdeckError(
				'failed',
				`${disk.file} of ${vm} still has a backing file after the ${running ? 'pull' : 'copy'}`,
				`run 'snapdeck recover ${vm}' again`,
			);
	}
	await rm(instantFile(connection, vm), {force: true});
	return running ? 'running' : 'stopped';
}
