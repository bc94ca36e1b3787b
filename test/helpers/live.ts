import {readFile, rm} from 'node:fs/promises';
import path from 'node:path';
import {qdevPath} from '../../source/adapters/local/qemu-process.js';
import {topNodes} from '../../source/adapters/qemu/block-view.js';
import {QmpClient} from '../../source/adapters/qemu/qmp-client.js';
import {writeVmFile} from '../../source/adapters/local/vm-file.js';
import {labWithVm, MiB, qemuImg} from './lab.js';
import {afterEachTest} from './cleanup.js';

const pidFiles: string[] = [];
// After each test: no QEMU outlives its test, whatever happened in it.
afterEachTest('qemu', 3, async () => {
	for (const file of pidFiles.splice(0)) {
		const pid = Number((await readFile(file, 'utf8').catch(() => '')).trim());
		if (pid > 0) {
			try {
				process.kill(pid, 'SIGKILL');
			} catch {
				// Already gone.
			}
		}
		await rm(file, {force: true});
	}
});

/** A lab VM with a real QEMU running it (no guest OS), started by snapdeck from its vm.json. */
export async function runningLab(name = 'live1', targets: string[] = ['vda'], sizeMiB = 256) {
	const lab = await labWithVm(name, targets, sizeMiB);
	const vm = await lab.vmFile();
	await writeVmFile(lab.folder, {...vm, qmp: 'qmp.sock', qemu: {machine: 'q35', memoryMiB: 128, args: []}});
	pidFiles.push(path.join(lab.folder, '.snapdeck', 'qemu.pid'));
	await lab.service.power(name, true, 'test');
	const qmp = async () => QmpClient.connect(path.join(lab.folder, 'qmp.sock'));
	/** Runs HMP commands inside the running VM. */
	const hmp = async (...commands: string[]) => {
		const client = await qmp();
		try {
			for (const command of commands) await client.execute('human-monitor-command', {'command-line': command});
		} finally {
			client.close();
		}
	};
	return {
		...lab,
		qmp,
		/** The guest writes `pattern` over 1 MiB at `mib` MiB, and flushes so other readers see it. */
		guestWrite: async (pattern: number, mib: number, target = 'vda', lengthMiB = 1) =>
			hmp(
				`qemu-io -d ${qdevPath(target)} "write -P ${pattern} ${mib * MiB} ${lengthMiB * MiB}"`,
				`qemu-io -d ${qdevPath(target)} "flush"`,
			),
		/** The image file each guest disk runs on now, as QEMU reports it. */
		liveTops: async () => {
			const client = await qmp();
			try {
				return Object.fromEntries(
					[...(await topNodes(client))].map(([target, top]) => [target, path.basename(top.file)]),
				);
			} finally {
				client.close();
			}
		},
		isRunning: async () => (await lab.hypervisor.inspect(name)).state.run === 'running',
		chain: async (target = 'vda') => {
			const chain: string[] = [];
			for (let file: string | undefined = await lab.activeFile(target); file;) {
				chain.push(path.basename(file));
				const backing: string | undefined = (await qemuImg.info(file))['full-backing-filename'];
				file = backing && path.resolve(lab.folder, backing);
			}
			return chain;
		},
	};
}

/**
 * Fills a running QEMU's monitor as other clients would: QEMU serves one QMP client and queues
 * one (a third connect is refused at once, EAGAIN). Resolves once both are accepted and the first
 * is greeted; both go after `ms`.
 */
export async function holdMonitor(socket: string, ms: number): Promise<void> {
	const {connect} = await import('node:net');
	const held = [connect(socket), connect(socket)];
	// QEMU ended by the test resets these connections: expected, not an error of the test.
	for (const client of held) client.on('error', () => undefined);
	await Promise.all(held.map(client => new Promise(resolve => client.once('connect', resolve))));
	await new Promise(resolve => held[0]!.once('data', resolve));
	setTimeout(() => held.forEach(client => client.destroy()), ms);
}
