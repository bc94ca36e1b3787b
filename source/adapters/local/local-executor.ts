import path from 'node:path';
import {fileExists} from '../file-checks.js';
import {handleStep, type StepExecutor} from '../../core/plan.js';
import type {CommandRunner} from '../exec.js';
import type {QemuImg} from '../qemu/qemu-img.js';
import {offlineExecutor} from './offline-executor.js';
import {assertOwnQemu, clearLeftovers, qcow2Nodes, topNodes} from '../qemu/qmp-block.js';
import {QmpClient} from '../qemu/qmp-client.js';
import {connectMonitor, qmpPath} from './qemu-process.js';
import {internalIn, liveHandlers} from './live-steps.js';
import type {VmFile} from './vm-file.js';

/**
 * Carries out plan steps on a local VM: through QMP while its QEMU runs (live-steps.ts), with
 * qemu-img while it does not. The choice is made per step, so a plan that stops the VM half-way,
 * or a plan resumed after a crash, takes the right path at every step.
 */
export function localExecutor(folder: string, vm: VmFile, qemuImg: QemuImg, runner: CommandRunner): StepExecutor {
	const offline = offlineExecutor(folder, vm, qemuImg, runner);
	const resolve = (file: string) => path.resolve(folder, file);
	let client: QmpClient | null = null;
	let clientClosed = false;
	const loaded = new Set<string>();
	const letGo = () => {
		client?.close();
		client = null;
	};

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

	return {
		async execute(step, context) {
			const qmp = step.op === 'start-vm' ? null : await running();
			if (!qmp) return offline.execute(step, context);
			return handleStep(
				liveHandlers({
					folder,
					vm,
					qemuImg,
					qmp,
					tops: await topNodes(qmp),
					offline: offline.handlers,
					loaded,
					onStopped: letGo,
				}),
				step,
				context,
			);
		},
		async rollback(step) {
			const qmp = await running();
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
			letGo();
		},
	};
}
