import {chmod, mkdir} from 'node:fs/promises';
import path from 'node:path';
import {SnapdeckError} from '../../core/errors.js';
import {partsBytes} from '../../core/progress.js';
import type {WorkFolders} from '../hypervisor.js';
import {headerChain} from '../qemu/qcow2-header.js';
import {topNodes} from '../qemu/block-view.js';
import {readyView, runJobs} from '../qemu/qmp-block.js';
import type {QemuImg} from '../qemu/qemu-img.js';
import {QmpClient} from '../qemu/qmp-client.js';
import {stateDir} from '../state/operation-store.js';
import type {LocalLab} from './lab.js';
import {socketAnswers} from './qemu-process.js';
import {readVmFile, writeVmFile, type VmFile} from './vm-file.js';
import {copyKernel, definitionToRestore, newUuid, newVmFolder} from './vm-restore.js';

/**
 * A new VM folder whose disks are overlays on a backup point's files in the repository
 * (`backings`: each disk's point file, absolute), recorded as an instant restore in its vm.json.
 */
export async function instantVm(
	lab: LocalLab,
	name: string,
	definition: unknown,
	backings: Readonly<Record<string, string>>,
	instant: {repository: string; point: string},
	work?: WorkFolders,
	bootFiles: Readonly<Record<string, string>> = {},
) {
	const vm = definitionToRestore(name, definition);
	if (!vm.qemu)
		throw new SnapdeckError(
			'refused',
			'the point records no "qemu" settings for the VM, so snapdeck cannot start it instantly',
			'restore it with --as NAME (without --instant), then give it a "qemu" section',
		);
	return newVmFolder(lab, name, work, async staging => {
		// The kernel a direct-boot VM starts: the point's own copy (never the live VM's).
		await copyKernel(vm, staging, bootFiles, true);
		await mkdir(stateDir(staging), {recursive: true, mode: 0o700});
		for (const [disk, backing] of Object.entries(backings)) {
			await lab.qemuImg.create(path.join(staging, `${disk}.qcow2`), {backing});
			await chmod(path.join(staging, `${disk}.qcow2`), 0o600);
		}
		await writeVmFile(staging, {
			...vm,
			name,
			uuid: newUuid(),
			current: null,
			snapshots: [],
			qmp: 'qmp.sock',
			instant,
			disks: Object.keys(backings).map(disk => ({target: disk, file: `${disk}.qcow2`})),
			description: `restored instantly from point ${instant.point} of ${vm.name}`,
		});
		return Object.fromEntries(Object.keys(backings).map(disk => [disk, `${disk}.qcow2`]));
	});
}

/** The instant restore a VM is in, if any: which repository folder and point its disks still read. */
export async function instantOf(lab: LocalLab, vm: string): Promise<{repository: string; point: string} | null> {
	return (await readVmFile(await lab.folderOf(vm))).instant;
}

type FinishOptions = {signal?: AbortSignal; onBytes?: (done: number, total: number) => void; bytesPerSecond?: number};

/**
 * Copies what an instantly restored VM still reads from the repository into its own disks, then
 * records that it no longer depends on it. Running: QMP block-stream on each disk (a stream a
 * killed snapdeck left in QEMU is cancelled first; streaming again is safe: what is in the
 * overlay stays). Stopped: `qemu-img rebase -b ''` of each disk (safe mode: every cluster it
 * still reads from the point is copied in), and the VM stays stopped. The caller holds its lock.
 */
export async function finishInstant(
	lab: LocalLab,
	vm: string,
	options: FinishOptions = {},
): Promise<'running' | 'stopped' | 'nothing'> {
	const folder = await lab.folderOf(vm);
	const file = await readVmFile(folder);
	if (!file.instant) return 'nothing';
	const qmp = file.qmp === null ? null : path.resolve(folder, file.qmp);
	// A disk whose stream finished after a killed snapdeck left it has no backing file left.
	const backed = [];
	for (const disk of file.disks)
		if ((await headerChain(path.resolve(folder, disk.file))).chain.length > 1) backed.push(disk);
	const running = qmp !== null && (await socketAnswers(qmp));
	if (running) await streamInQemu(qmp, folder, vm, backed, options);
	else await rebaseOffline(lab.qemuImg, folder, backed, options);
	// The disks' headers name no backing file now: the VM stands alone.
	for (const disk of file.disks) {
		const {chain} = await headerChain(path.resolve(folder, disk.file));
		if (chain.length !== 1)
			throw new SnapdeckError(
				'failed',
				`${disk.file} of ${vm} still has a backing file after the ${running ? 'stream' : 'copy'}`,
				`run 'snapdeck recover ${vm}' again`,
			);
	}
	await writeVmFile(folder, {...(await readVmFile(folder)), instant: null});
	return running ? 'running' : 'stopped';
}

/** QMP block-stream of each `backed` disk in the VM's running QEMU (a stream a killed snapdeck left there is cancelled first). */
async function streamInQemu(
	qmp: string,
	folder: string,
	vm: string,
	backed: ReadonlyArray<VmFile['disks'][number]>,
	options: FinishOptions,
) {
	const client = await QmpClient.connect(qmp, 5000);
	try {
		const tops = await topNodes(await readyView(client, folder, vm));
		const nodes = backed.map(disk => tops.get(disk.target)?.node);
		if (nodes.some(node => node === undefined))
			throw new SnapdeckError('failed', `the running QEMU of ${vm} lacks a disk its vm.json lists`);
		if (nodes.length > 0)
			await runJobs(
				client,
				'stream',
				nodes.length,
				ids =>
					Promise.all(
						nodes.map((node, index) =>
							client.execute('block-stream', {
								'job-id': ids[index],
								device: node,
								...(options.bytesPerSecond ? {speed: options.bytesPerSecond} : {}),
							}),
						),
					),
				{signal: options.signal, onBytes: options.onBytes},
			);
	} finally {
		client.close();
	}
}

/** `qemu-img rebase -b ''` of each `backed` disk of a stopped VM, in safe mode: every cluster it still reads from the point is copied in. */
async function rebaseOffline(
	qemuImg: QemuImg,
	folder: string,
	backed: ReadonlyArray<VmFile['disks'][number]>,
	options: FinishOptions,
) {
	const sizes = new Map(
		await Promise.all(
			backed.map(async disk => [disk, (await headerChain(path.resolve(folder, disk.file))).virtualSize] as const),
		),
	);
	const progress = partsBytes(
		backed,
		disk => sizes.get(disk) ?? 0,
		(done, total) => options.onBytes?.(done, total),
	);
	for (const disk of backed) {
		await qemuImg.rebase(path.resolve(folder, disk.file), null, {
			signal: options.signal,
			onProgress: progress.of(disk),
		});
		progress.finished(disk);
	}
}
