import path from 'node:path';
import {SnapdeckError} from '../../core/errors.js';
import {BACKUP_BITMAP_PREFIX} from '../../core/backup-manifest.js';
import type {StepContext, StepHandlers, StepOf} from '../../core/plan.js';
import {fileExists} from '../file-checks.js';
import {matchSource} from '../safe-fs.js';
import {withFrozenGuest} from '../guest-agent.js';
import type {QemuImg} from '../qemu/qemu-img.js';
import type {QmpClient} from '../qemu/qmp-client.js';
import {readQcow2Header} from '../qemu/qcow2-header.js';
import {type BlockView, dropDetachedNodes, nodeBitmaps, qcow2Nodes} from '../qemu/block-view.js';
import {flushAll, runJob} from '../qemu/qmp-block.js';
import {stopVm} from './qemu-process.js';
import type {VmFile} from './vm-file.js';

/**
 * What every live step of one plan shares: the VM, its running QEMU, and the offline handlers to
 * fall back on (the snapshot stores' work and vm.json, offline-executor.ts) for what QEMU does not hold.
 */
export interface Live {
	readonly folder: string;
	readonly vm: VmFile;
	readonly qemuImg: QemuImg;
	readonly qmp: QmpClient;
	/** The running QEMU's block layer as the step found it, read once: every question before the step changes it is answered from here. */
	readonly view: BlockView;
	/** Each disk's top node and file, as the running QEMU has them when the step starts. */
	readonly tops: ReadonlyMap<string, {node: string; file: string}>;
	readonly offline: StepHandlers;
	/** Memory snapshots this plan has loaded: one snapshot-load covers every disk. */
	readonly loaded: Set<string>;
	/** Told when the VM was stopped, so the executor lets go of its monitor. */
	readonly onStopped: () => void;
}

/**
 * How each kind of step is carried out through a running QEMU's monitor (QMP): the hypervisor's
 * live handling of the snapshot stores' steps. The kinds QEMU has no part in (and a step on an
 * image the VM does not have open) go to the stores, as on a stopped VM.
 */
export function liveHandlers(live: Live): StepHandlers {
	return {
		...live.offline,
		'create-overlay': (step, context) => createOverlay(live, step, context),
		'write-definition': (step, context) => switchOverlays(live, step, context),
		'internal-create': (step, context) => internalCreate(live, step, context),
		'internal-apply': (step, context) => internalApply(live, step, context),
		'internal-delete': (step, context) => internalDelete(live, step, context),
		commit: (step, context) => commit(live, step, context),
		rebase: (step, context) => rebase(live, step, context),
		'stop-vm': async () => {
			await stopVm(live.folder, live.vm, live.qmp);
			live.onStopped();
		},
	};
}

const resolve = (live: Live, file: string) => path.resolve(live.folder, file);
const relativeTo = (live: Live, image: string, backing: string) =>
	path.relative(path.dirname(resolve(live, image)), resolve(live, backing));

function topOf(live: Live, disk: string) {
	const top = live.tops.get(disk);
	if (!top)
		throw new SnapdeckError('refused', `the running VM has no disk ${disk}`, 'stop the VM and check its vm.json');
	return top;
}

export async function internalIn(qemuImg: QemuImg, file: string, name: string): Promise<boolean> {
	return ((await qemuImg.info(file)).snapshots ?? []).some(snapshot => snapshot.name === name);
}

/** Runs `work` with the guest's filesystems frozen through its agent when `freeze`; thaws after, always. */
async function frozenIf<T>(live: Live, freeze: boolean, work: () => Promise<T>): Promise<T> {
	if (!freeze) return work();
	if (!live.vm.qemu?.agent)
		throw new SnapdeckError('refused', `cannot quiesce ${live.vm.name}: its vm.json names no guest agent socket`);
	return withFrozenGuest(path.resolve(live.folder, live.vm.qemu.agent), live.vm.name, work);
}

/** Only the file now; the switch to it happens, for all disks at once, with the metadata. */
async function createOverlay(live: Live, step: StepOf<'create-overlay'>, {resuming}: StepContext) {
	const file = resolve(live, step.file);
	if ((await fileExists(file)) && !resuming)
		throw new SnapdeckError('refused', `${file} already exists; snapdeck never overwrites an image`);
	// From the header (104 bytes read), not a qemu-img process: the image is in use, and the size is all it takes.
	const size = (await readQcow2Header(resolve(live, step.backing))).virtualSize;
	await live.qemuImg.create(file, {backing: relativeTo(live, step.file, step.backing), size, unsafe: true});
	return matchSource(file, resolve(live, step.backing));
}

/**
 * The new overlays go live in one transaction with the backups' dirty bitmaps carried onto them
 * (every disk switches, or none does; frozen for a quiesced snapshot), then the metadata is written.
 */
async function switchOverlays(live: Live, step: StepOf<'write-definition'>, context: StepContext) {
	const actions: Array<{type: string; data: Record<string, unknown>}> = [];
	const bitmaps = await nodeBitmaps(live.view);
	for (const disk of step.definition.disks) {
		const top = topOf(live, disk.target);
		if (top.file === resolve(live, disk.file)) continue;
		// The overlay's own header says what it is built on (resolved beside it, as QEMU does).
		const {backing} = await readQcow2Header(resolve(live, disk.file));
		if (backing === null || backing !== top.file) {
			throw new SnapdeckError(
				'refused',
				`the running VM's disk ${disk.target} is on ${top.file}, which ${disk.file} is not built on`,
				'the metadata and the VM disagree: stop the VM and run the command again',
			);
		}
		const node = `${disk.target}-${Date.now().toString(36)}`;
		actions.push({
			type: 'blockdev-snapshot-sync',
			data: {
				'node-name': top.node,
				'snapshot-file': resolve(live, disk.file),
				'snapshot-node-name': node,
				format: 'qcow2',
				mode: 'existing',
			},
		});
		for (const {name} of (bitmaps.get(top.node) ?? []).filter(bitmap => bitmap.name.startsWith(BACKUP_BITMAP_PREFIX))) {
			actions.push(
				{type: 'block-dirty-bitmap-add', data: {node, name, persistent: true}},
				{type: 'block-dirty-bitmap-merge', data: {node, target: name, bitmaps: [{node: top.node, name}]}},
			);
		}
	}
	const taken = step.definition.snapshots.find(
		snapshot => !live.vm.snapshots.some(known => known.name === snapshot.name),
	);
	if (actions.length > 0)
		await frozenIf(live, taken?.quiesced === true, () => live.qmp.execute('transaction', {actions}));
	return live.offline['write-definition'](step, context);
}

async function internalCreate(live: Live, step: StepOf<'internal-create'>, {signal, onProgress}: StepContext) {
	if (await internalIn(live.qemuImg, resolve(live, step.file), step.name)) return; // The first disk's step took it on every disk.
	const devices = live.vm.disks.map(disk => topOf(live, disk.target).node);
	if (step.memory) {
		return runJob(
			live.qmp,
			'snapshot-save',
			id => live.qmp.execute('snapshot-save', {'job-id': id, tag: step.name, vmstate: devices[0], devices}),
			{signal, onProgress},
		);
	}
	return void (await live.qmp.execute('transaction', {
		actions: devices.map(device => ({type: 'blockdev-snapshot-internal-sync', data: {device, name: step.name}})),
	}));
}

async function internalApply(live: Live, step: StepOf<'internal-apply'>, {signal, onProgress}: StepContext) {
	const snapshot = live.vm.snapshots.find(candidate => candidate.name === step.name);
	if (!snapshot?.memory)
		throw new SnapdeckError(
			'refused',
			`a disk-only snapshot cannot be applied to a running VM`,
			'the plan stops the VM first; run the command again',
		);
	if (live.loaded.has(step.name)) return;
	const devices = live.vm.disks.map(disk => topOf(live, disk.target).node);
	await runJob(
		live.qmp,
		'snapshot-load',
		id => live.qmp.execute('snapshot-load', {'job-id': id, tag: step.name, vmstate: devices[0], devices}),
		{signal, onProgress},
	);
	live.loaded.add(step.name);
}

async function internalDelete(live: Live, step: StepOf<'internal-delete'>, context: StepContext) {
	const top = topOf(live, step.disk);
	const file = resolve(live, step.file);
	if (top.file === file) {
		if (context.resuming && !(await internalIn(live.qemuImg, file, step.name))) return;
		return void (await live.qmp.execute('blockdev-snapshot-delete-internal-sync', {device: top.node, name: step.name}));
	}
	if ((await qcow2Nodes(live.view)).has(file)) {
		throw new SnapdeckError(
			'refused',
			`${step.file} is a read-only backing image of the running VM; its internal snapshot '${step.name}' can be deleted only while the VM is stopped`,
			'stop the VM, then run the command again',
		);
	}
	return live.offline['internal-delete'](step, context);
}

async function commit(live: Live, step: StepOf<'commit'>, context: StepContext) {
	const nodes = await qcow2Nodes(live.view);
	const topNode = nodes.get(resolve(live, step.top));
	const baseNode = nodes.get(resolve(live, step.base));
	if (!topNode) return live.offline.commit(step, context);
	if (!baseNode) throw new SnapdeckError('refused', `${step.base} is not in the running VM's chain under ${step.top}`);
	const top = topOf(live, step.disk);
	const active = top.node === topNode;
	await runJob(
		live.qmp,
		'block-commit',
		id =>
			live.qmp.execute(
				'block-commit',
				active
					? {'job-id': id, device: topNode, 'base-node': baseNode}
					: {
							'job-id': id,
							device: top.node,
							'top-node': topNode,
							'base-node': baseNode,
							'backing-file': path.basename(resolve(live, step.base)),
						},
			),
		{signal: context.signal, onProgress: context.onProgress, pivot: active},
	);
	await dropDetachedNodes(live.qmp);
	return flushAll(live.qmp);
}

async function rebase(live: Live, step: StepOf<'rebase'>, context: StepContext) {
	const nodes = await qcow2Nodes(live.view);
	const node = nodes.get(resolve(live, step.file));
	if (!node) return live.offline.rebase(step, context);
	const current = (await live.qemuImg.info(resolve(live, step.file)))['full-backing-filename'];
	const already =
		step.backing === null
			? current === undefined
			: current !== undefined && path.resolve(live.folder, current) === resolve(live, step.backing);
	if (already) return flushAll(live.qmp); // QEMU rewrote the header (when it committed below, or before a crash).
	if (!step.copy)
		throw new SnapdeckError(
			'refused',
			`${step.file} is open in the running VM and still backed by ${current}`,
			'stop the VM, then run snapdeck recover',
		);
	const base = step.backing === null ? undefined : nodes.get(resolve(live, step.backing));
	await runJob(
		live.qmp,
		'block-stream',
		id =>
			live.qmp.execute('block-stream', {
				'job-id': id,
				device: node,
				...(base ? {'base-node': base, 'backing-file': relativeTo(live, step.file, step.backing!)} : {}),
			}),
		{signal: context.signal, onProgress: context.onProgress},
	);
	await dropDetachedNodes(live.qmp);
	return flushAll(live.qmp);
}
