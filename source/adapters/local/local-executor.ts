import path from 'node:path';
import {SnapdeckError} from '../../core/errors.js';
import {fileExists} from '../files.js';
import {matchSource} from '../safe-fs.js';
import {handleStep, type StepExecutor, type StepHandlers} from '../../core/plan.js';
import type {CommandRunner} from '../exec.js';
import type {QemuImg} from '../qemu/qemu-img.js';
import {offlineExecutor} from './offline-executor.js';
import {readQcow2Header} from '../qemu/qcow2-header.js';
import {assertOwnQemu, clearLeftovers, dropDetachedNodes, flushAll, nodeBitmaps, qcow2Nodes, runJob, topNodes} from '../qemu/qmp-block.js';
import {BACKUP_BITMAP_PREFIX} from '../../core/backup.js';
import {QmpClient} from '../qemu/qmp-client.js';
import {withFrozenGuest} from '../guest-agent.js';
import {connectMonitor, qmpPath, stopVm} from './qemu-process.js';
import type {VmFile} from './vm-file.js';

/**
 * Carries out plan steps on a local VM: through QMP while its QEMU runs, with qemu-img while it
 * does not. The choice is made per step, so a plan that stops the VM half-way, or a plan resumed
 * after a crash, takes the right path at every step.
 */
export function localExecutor(folder: string, vm: VmFile, qemuImg: QemuImg, runner: CommandRunner): StepExecutor {
	const offline = offlineExecutor(folder, vm, qemuImg, runner);
	const resolve = (file: string) => path.resolve(folder, file);
	const relativeTo = (image: string, backing: string) => path.relative(path.dirname(resolve(image)), resolve(backing));
	let client: QmpClient | null = null;
	let clientClosed = false;
	/** Memory snapshots loaded by this plan: one snapshot-load covers every disk. */
	const loaded = new Set<string>();

	async function running(): Promise<QmpClient | null> {
		if (client && !clientClosed) return client;
		const socket = qmpPath(folder, vm);
		if (socket === null || !(await fileExists(socket))) return null;
		client = await connectMonitor(folder, socket);
		clientClosed = false;
		// What a killed snapdeck left in this QEMU would make the next job fail: cleared first.
		if (client) {
			await assertOwnQemu(client, folder, vm.name);
			await clearLeftovers(client);
		}
		void client?.closed().then(() => {
			clientClosed = true;
		});
		return client;
	}

	/** Runs `work` with the guest's filesystems frozen through its agent when `freeze`; thaws after, always. */
	async function frozenIf<T>(freeze: boolean, work: () => Promise<T>): Promise<T> {
		if (!freeze) return work();
		if (!vm.qemu?.agent) throw new SnapdeckError('refused', `cannot quiesce ${vm.name}: its vm.json names no guest agent socket`);
		return withFrozenGuest(path.resolve(folder, vm.qemu.agent), vm.name, work);
	}

	const internalIn = async (file: string, name: string) => ((await qemuImg.info(resolve(file))).snapshots ?? []).some(snapshot => snapshot.name === name);

	/** How each kind of step is carried out through the running QEMU's monitor; the rest as offline. */
	function live(qmp: QmpClient, tops: Awaited<ReturnType<typeof topNodes>>): StepHandlers {
		const topOf = (disk: string) => {
			const top = tops.get(disk);
			if (!top) throw new SnapdeckError('refused', `the running VM has no disk ${disk}`, 'stop the VM and check its vm.json');
			return top;
		};
		return {
			...offline.handlers,
			'create-overlay': async (step, {resuming}) => {
				// Only the file now; the switch to it happens, for all disks at once, with the metadata.
				if ((await fileExists(resolve(step.file))) && !resuming) throw new SnapdeckError('refused', `${resolve(step.file)} already exists; snapdeck never overwrites an image`);
				// From the header (104 bytes read), not a qemu-img process: the image is in use, and the size is all it takes.
				const size = (await readQcow2Header(resolve(step.backing))).virtualSize;
				await qemuImg.create(resolve(step.file), {backing: relativeTo(step.file, step.backing), size, unsafe: true});
				return matchSource(resolve(step.file), resolve(step.backing));
			},
			'write-definition': async (step, context) => {
				const actions: Array<{type: string; data: Record<string, unknown>}> = [];
				const bitmaps = await nodeBitmaps(qmp);
				for (const disk of step.definition.disks) {
					const top = topOf(disk.target);
					if (top.file === resolve(disk.file)) continue;
					// The overlay's own header says what it is built on (resolved beside it, as QEMU does).
					const {backing} = await readQcow2Header(resolve(disk.file));
					if (backing === null || backing !== top.file) {
						throw new SnapdeckError('refused', `the running VM's disk ${disk.target} is on ${top.file}, which ${disk.file} is not built on`, 'the metadata and the VM disagree: stop the VM and run the command again');
					}
					const node = `${disk.target}-${Date.now().toString(36)}`;
					actions.push({type: 'blockdev-snapshot-sync', data: {'node-name': top.node, 'snapshot-file': resolve(disk.file), 'snapshot-node-name': node, format: 'qcow2', mode: 'existing'}});
					// The backups' dirty bitmaps go on in the new overlay, in the same instant (the same transaction).
					for (const {name} of (bitmaps.get(top.node) ?? []).filter(bitmap => bitmap.name.startsWith(BACKUP_BITMAP_PREFIX))) {
						actions.push(
							{type: 'block-dirty-bitmap-add', data: {node, name, persistent: true}},
							{type: 'block-dirty-bitmap-merge', data: {node, target: name, bitmaps: [{node: top.node, name}]}},
						);
					}
				}
				// One transaction: every disk switches to its new overlay, or none does; for a quiesced
				// snapshot, with the guest's filesystems frozen (and thawed whatever happens).
				const taken = step.definition.snapshots.find(snapshot => !vm.snapshots.some(known => known.name === snapshot.name));
				if (actions.length > 0) await frozenIf(taken?.quiesced === true, () => qmp.execute('transaction', {actions}));
				return offline.execute(step, context);
			},
			'internal-create': async (step, {signal, onProgress}) => {
				if (await internalIn(step.file, step.name)) return; // The first disk's step took it on every disk.
				if (step.memory) {
					const devices = vm.disks.map(disk => topOf(disk.target).node);
					return runJob(qmp, 'snapshot-save', id => qmp.execute('snapshot-save', {'job-id': id, tag: step.name, vmstate: devices[0], devices}), {signal, onProgress});
				}
				const actions = vm.disks.map(disk => ({type: 'blockdev-snapshot-internal-sync', data: {device: topOf(disk.target).node, name: step.name}}));
				return void (await qmp.execute('transaction', {actions}));
			},
			'internal-apply': async (step, {signal, onProgress}) => {
				const snapshot = vm.snapshots.find(candidate => candidate.name === step.name);
				if (!snapshot?.memory) throw new SnapdeckError('refused', `a disk-only snapshot cannot be applied to a running VM`, 'the plan stops the VM first; run the command again');
				if (loaded.has(step.name)) return;
				const devices = vm.disks.map(disk => topOf(disk.target).node);
				await runJob(qmp, 'snapshot-load', id => qmp.execute('snapshot-load', {'job-id': id, tag: step.name, vmstate: devices[0], devices}), {signal, onProgress});
				loaded.add(step.name);
				return;
			},
			'internal-delete': async (step, context) => {
				const {resuming} = context;
				const top = topOf(step.disk);
				if (top.file === resolve(step.file)) {
					if (resuming && !(await internalIn(step.file, step.name))) return;
					return void (await qmp.execute('blockdev-snapshot-delete-internal-sync', {device: top.node, name: step.name}));
				}
				if ((await qcow2Nodes(qmp)).has(resolve(step.file))) {
					throw new SnapdeckError('refused', `${step.file} is a read-only backing image of the running VM; its internal snapshot '${step.name}' can be deleted only while the VM is stopped`, 'stop the VM, then run the command again');
				}
				return offline.execute(step, context);
			},
			commit: async (step, context) => {
				const {signal, onProgress} = context;
				const nodes = await qcow2Nodes(qmp);
				const topNode = nodes.get(resolve(step.top));
				const baseNode = nodes.get(resolve(step.base));
				if (!topNode) return offline.execute(step, context);
				if (!baseNode) throw new SnapdeckError('refused', `${step.base} is not in the running VM's chain under ${step.top}`);
				const top = topOf(step.disk);
				const active = top.node === topNode;
				await runJob(qmp, 'block-commit', id => qmp.execute('block-commit', active
					? {'job-id': id, device: topNode, 'base-node': baseNode}
					: {'job-id': id, device: top.node, 'top-node': topNode, 'base-node': baseNode, 'backing-file': path.basename(resolve(step.base))}), {signal, onProgress, pivot: active});
				await dropDetachedNodes(qmp);
				return flushAll(qmp);
			},
			rebase: async (step, context) => {
				const {signal, onProgress} = context;
				const nodes = await qcow2Nodes(qmp);
				const node = nodes.get(resolve(step.file));
				if (!node) return offline.execute(step, context);
				const current = (await qemuImg.info(resolve(step.file)))['full-backing-filename'];
				const already = step.backing === null ? current === undefined : current !== undefined && path.resolve(folder, current) === resolve(step.backing);
				if (already) return flushAll(qmp); // QEMU rewrote the header (when it committed below, or before a crash).
				if (!step.copy) throw new SnapdeckError('refused', `${step.file} is open in the running VM and still backed by ${current}`, 'stop the VM, then run snapdeck recover');
				const base = step.backing === null ? undefined : nodes.get(resolve(step.backing));
				await runJob(qmp, 'block-stream', id => qmp.execute('block-stream', {
					'job-id': id, device: node,
					...(base ? {'base-node': base, 'backing-file': relativeTo(step.file, step.backing!)} : {}),
				}), {signal, onProgress});
				await dropDetachedNodes(qmp);
				return flushAll(qmp);
			},
			'stop-vm': async () => {
				await stopVm(folder, vm, qmp);
				client?.close();
				client = null;
			},
		};
	}

	return {
		async execute(step, context) {
			const qmp = step.op === 'start-vm' ? null : await running();
			return qmp ? handleStep(live(qmp, await topNodes(qmp)), step, context) : offline.execute(step, context);
		},
		async rollback(step) {
			const qmp = await running();
			if (qmp && step.op === 'internal-create' && (await internalIn(step.file, step.name))) {
				const top = (await topNodes(qmp)).get(step.disk);
				if (top?.file === resolve(step.file)) return void (await qmp.execute('blockdev-snapshot-delete-internal-sync', {device: top.node, name: step.name}));
			}
			if (step.op === 'create-overlay' && qmp && (await qcow2Nodes(qmp)).has(resolve(step.file))) return; // In use: not ours to remove.
			return offline.rollback(step);
		},
		async close() {
			client?.close();
			client = null;
		},
	};
}
