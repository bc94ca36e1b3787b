import {chmod} from 'node:fs/promises';
import {SnapdeckError} from '../../core/errors.js';
import path from 'node:path';
import type {BackupDriver} from '../hypervisor.js';
import type {QemuImg} from './qemu-img.js';
import {BACKUP_TARGET_PREFIX, nodeBitmaps, runJobs} from './qmp-block.js';
import {QmpError, type QmpClient} from './qmp-client.js';

/**
 * Copy requests of up to 4 MiB instead of one cluster: a full backup of 1 GiB took 650 ms instead
 * of 1.6-1.9 s here (2 and 16 MiB were slower). Not copy offloading (use-copy-range): on a
 * filesystem with reflinks the backup would share its blocks with the VM's image.
 */
const TUNING = {'x-perf': {'max-chunk': 4 * 1024 * 1024}};

/**
 * Backups through QMP: blockdev-backup jobs into target nodes, and persistent dirty bitmaps added
 * in the same transaction that starts the jobs. Serves a running VM's QEMU and a
 * qemu-storage-daemon alike.
 */
export function qmpBackupDriver(options: {
	client: QmpClient;
	disks: ReadonlyArray<{target: string; node: string; virtualSize: number}>;
	definition: unknown;
	qemuImg: QemuImg;
	close: () => Promise<void>;
	/** Why no bitmap may be added to (or removed from) the images, if so: the copy is then a plain full. */
	untracked?: string;
	/** Runs its work with the guest frozen (a running VM with a guest agent); absent: a quiesced copy is refused. */
	freeze?: <T>(work: () => Promise<T>) => Promise<T>;
	/** What the VM needs to start besides its disks (see BackupDriver.bootFiles). */
	bootFiles?: BackupDriver['bootFiles'];
}): BackupDriver {
	const {client, disks, qemuImg, untracked} = options;
	return {
		disks: disks.map(({target, virtualSize}) => ({target, virtualSize})),
		...(options.bootFiles ? {bootFiles: options.bootFiles} : {}),
		definition: options.definition,
		...(untracked === undefined ? {} : {untracked}),
		compresses: true,
		close: options.close,
		async bitmaps(prefix) {
			if (untracked !== undefined) return new Map();
			const all = await nodeBitmaps(client);
			return new Map(disks.map(disk => [disk.target, (all.get(disk.node) ?? []).filter(bitmap => bitmap.name.startsWith(prefix))]));
		},
		async changedBytes(name) {
			const all = await nodeBitmaps(client);
			return disks.reduce((sum, disk) => sum + ((all.get(disk.node) ?? []).find(bitmap => bitmap.name === name)?.count ?? 0), 0);
		},
		async removeBitmap(name) {
			if (untracked !== undefined) return;
			const all = await nodeBitmaps(client);
			for (const disk of disks) {
				if ((all.get(disk.node) ?? []).some(bitmap => bitmap.name === name)) await client.execute('block-dirty-bitmap-remove', {node: disk.node, name});
			}
		},
		async copy({bitmap, since, targets, bytesPerSecond, compress = false, quiesce = false, signal, onBytes}) {
			if (quiesce && !options.freeze) throw new SnapdeckError('refused', 'cannot quiesce this backup: the VM is not running with a guest agent snapdeck can reach', 'back it up unquiesced (leave out --quiesce)');
			const nodes = targets.map(target => `${BACKUP_TARGET_PREFIX}${target.disk}`);
			const added: string[] = [];
			try {
				for (const [index, target] of targets.entries()) {
					// An incremental's backing file is the previous point's, named relative to it.
					const compression = compress ? {compression: 'zstd' as const} : {};
					if (target.backing === null) await qemuImg.create(target.file, {size: target.virtualSize, ...compression});
					else await qemuImg.create(target.file, {backing: path.relative(path.dirname(target.file), target.backing), ...compression});
					// Before a byte of the disk is in it: a point is its owner's alone.
					await chmod(target.file, 0o600);
					await client.execute('blockdev-add', {driver: 'qcow2', 'node-name': nodes[index], file: {driver: 'file', filename: target.file}});
					added.push(nodes[index]!);
				}
				const speed = bytesPerSecond === undefined ? {} : {speed: bytesPerSecond};
				const begin = (ids: string[], tuned: boolean) =>
					client.execute('transaction', {
						actions: targets.flatMap((target, index) => {
							const node = disks.find(disk => disk.target === target.disk)!.node;
							return [
								...(untracked === undefined ? [{type: 'block-dirty-bitmap-add', data: {node, name: bitmap, persistent: true}}] : []),
								{
									type: 'blockdev-backup',
									data: {
										'job-id': ids[index], device: node, target: nodes[index], ...speed, ...(tuned ? TUNING : {}), ...(compress ? {compress: true} : {}),
										...(since === null ? {sync: 'full'} : {sync: 'bitmap', bitmap: since, 'bitmap-mode': 'never'}),
									},
								},
							];
						}),
						// Not 'grouped': QEMU 7.2 refuses it beside bitmap actions. A disk whose job fails fails the run.
					});
				// The point in time of a backup is the start of its jobs: that is what a quiesce freezes for.
				const frozen = <T>(work: () => Promise<T>) => (quiesce ? options.freeze!(work) : work());
				await runJobs(client, 'backup', targets.length, ids =>
					frozen(() => begin(ids, true)).catch(async error => {
						// A QEMU without the (experimental) x-perf tuning runs the same jobs untuned.
						if (!(error instanceof QmpError && /x-perf/.test(error.desc))) throw error;
						await begin(ids, false);
					}), {signal, onBytes});
			} finally {
				// Closing a target node flushes it to its file.
				for (const node of added) await client.execute('blockdev-del', {'node-name': node}).catch(() => undefined);
			}
		},
	};
}
