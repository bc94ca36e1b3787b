import path from 'node:path';
import {fileExists} from '../file-checks.js';
import {changedNothing} from '../../core/errors.js';
import {handleStep, type Step, type StepExecutor} from '../../core/plan.js';
import type {CommandRunner} from '../exec.js';
import type {QemuImg} from '../qemu/qemu-img.js';
import {offlineExecutor} from './offline-executor.js';
import {BlockView, qcow2Nodes, topNodes} from '../qemu/block-view.js';
import {readyView} from '../qemu/qmp-block.js';
import {QmpClient} from '../qemu/qmp-client.js';
import {connectMonitor, qmpPath} from './qemu-process.js';
import {internalIn, liveHandlers, type Live} from './live-steps.js';
import type {VmFile} from './vm-file.js';

/**
 * The VM's monitor: connected when a step first needs it and kept while QEMU runs (found again
 * after it stops), with the view read when it was taken over.
 */
function vmMonitor(folder: string, vm: VmFile) {
	let client: QmpClient | null = null;
	let clientClosed = false;
	/** The view read when the monitor was taken over, for the first step: nothing has changed QEMU since. */
	let firstView: BlockView | null = null;
	return {
		async running(): Promise<QmpClient | null> {
			if (client && !clientClosed) return client;
			const socket = qmpPath(folder, vm);
			if (socket === null || !(await fileExists(socket))) return null;
			const connected = await connectMonitor(folder, socket);
			if (!connected) return null;
			try {
				// Its own QEMU, and what a killed snapdeck left in it (which would make the next job fail) cleared first.
				firstView = await readyView(connected, folder, vm.name);
			} catch (error) {
				// Never kept: a monitor not yet found to be the VM's own is asked again, not used.
				connected.close();
				throw error;
			}
			client = connected;
			clientClosed = false;
			void client.closed().then(() => {
				clientClosed = true;
			});
			return client;
		},
		/** The view read at takeover, given once. */
		takeFirstView(): BlockView | null {
			const view = firstView;
			firstView = null;
			return view;
		},
		letGo(): void {
			client?.close();
			client = null;
			firstView = null;
		},
	};
}

/**
 * Carries out plan steps on a local VM: through QMP while its QEMU runs (live-steps.ts), with
 * qemu-img while it does not. The choice is made per step, so a plan that stops the VM half-way,
 * or a plan resumed after a crash, takes the right path at every step.
 */
export function localExecutor(folder: string, vm: VmFile, qemuImg: QemuImg, runner: CommandRunner): StepExecutor {
	const offline = offlineExecutor(folder, vm, qemuImg, runner);
	const resolve = (file: string) => path.resolve(folder, file);
	const monitor = vmMonitor(folder, vm);
	const running = monitor.running;
	const loaded = new Set<string>();

	/**
	 * The running QEMU and its disks' top nodes, read before a step touches anything: a monitor
	 * that is not the VM's QEMU, or that answers in a way snapdeck does not know (vm.json's "qmp"
	 * may name any socket), fails the step as one that changed nothing, so that the plan is
	 * refused whole rather than left for a recover that would meet the same answer.
	 */
	async function live(step: Step): Promise<Pick<Live, 'qmp' | 'view' | 'tops'> | null> {
		try {
			const qmp = step.op === 'start-vm' ? null : await running();
			if (!qmp) return null;
			const view = monitor.takeFirstView() ?? new BlockView(qmp);
			return {qmp, view, tops: await topNodes(view)};
		} catch (error) {
			throw changedNothing(error instanceof Error ? error : new Error(String(error)));
		}
	}

	return {
		async execute(step, context) {
			const found = await live(step);
			if (!found) return offline.execute(step, context);
			return handleStep(
				liveHandlers({
					folder,
					vm,
					qemuImg,
					...found,
					offline: offline.handlers,
					loaded,
					onStopped: monitor.letGo,
				}),
				step,
				context,
			);
		},
		async rollback(step) {
			const qmp = await running();
			monitor.takeFirstView(); // What a rollback does changes QEMU: that view is stale after it.
			if (qmp && step.op === 'internal-create' && (await internalIn(qemuImg, resolve(step.file), step.name))) {
				const top = (await topNodes(qmp)).get(step.disk);
				if (top?.file === resolve(step.file))
					return void (await qmp.execute('blockdev-snapshot-delete-internal-sync', {
						device: top.node,
						name: step.name,
					}));
			}
			if (step.op === 'create-overlay' && qmp && (await qcow2Nodes(qmp)).has(resolve(step.file))) return; // In use: not ours to remove.
			return offline.rollback(step);
		},
		async close() {
			monitor.letGo();
		},
	};
}
