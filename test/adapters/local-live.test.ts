import {open, readFile, rm} from 'node:fs/promises';
import {processAlive} from '../../source/adapters/file-checks.js';
import path from 'node:path';
import {execa} from 'execa';
import {describe, expect, it, vi} from 'vitest';
import {localExecutor} from '../../source/adapters/local/local-executor.js';
import {localRunner} from '../../source/adapters/exec.js';
import {readVmFile} from '../../source/adapters/local/vm-file.js';
import {qemuImg} from '../helpers/lab.js';
import {holdMonitor, runningLab} from '../helpers/live.js';
import {imagePath} from '../../source/adapters/qemu/block-view.js';
import {QmpClient} from '../../source/adapters/qemu/qmp-client.js';

const A = 0xa1;
const B = 0xb2;
const C = 0xc3;

/** A live take of `name` run by hand up to its switch: the overlays made, the executor and the metadata step not yet run. */
async function overlaysMade(lab: Awaited<ReturnType<typeof runningLab>>, vm: string, name: string) {
	const {state} = await lab.hypervisor.inspect(vm);
	const {planTake} = await import('../../source/core/planner.js');
	const plan = planTake(state, {name, kind: 'external', now: new Date()});
	const executor = localExecutor(lab.folder, await readVmFile(lab.folder), qemuImg, localRunner);
	for (const step of plan.steps.filter(candidate => candidate.op === 'create-overlay'))
		await executor.execute(step, {resuming: false, onProgress: () => {}});
	return {executor, define: plan.steps.find(step => step.op === 'write-definition')!};
}

describe('snapshots of a running VM (real QEMU, no guest OS)', () => {
	it('live external snapshot, then a revert that restarts the VM brings the data back', async () => {
		const lab = await runningLab();
		await lab.guestWrite(A, 1);
		const {plan: take} = await lab.take('s1');
		expect(take.steps.map(step => step.op)).toEqual(['create-overlay', 'write-definition']);
		expect(await lab.liveTops()).toEqual({vda: 'vda.s1.qcow2'});
		await lab.guestWrite(B, 1);
		expect(await lab.reads(B, 1)).toBe(true);

		const {plan} = await lab.revert('s1');
		expect(plan.steps.map(step => step.op)).toEqual([
			'stop-vm',
			'create-overlay',
			'write-definition',
			'delete-image',
			'start-vm',
		]);
		expect(await lab.isRunning()).toBe(true);
		expect(await lab.reads(A, 1)).toBe(true);
		expect((await lab.liveTops())['vda']).toBe(path.basename(await lab.activeFile()));
	});

	it("live merge of the active layer and of a middle layer keeps every snapshot's data", async () => {
		const lab = await runningLab();
		await lab.guestWrite(A, 1);
		await lab.take('s1');
		await lab.guestWrite(B, 2);
		await lab.take('s2');
		await lab.guestWrite(C, 3);
		await lab.take('s3');

		// Middle: s2's frozen image has one child (s3's frozen image), committed down while the VM runs.
		const middle = await lab.merge('s2');
		expect(middle.plan.steps[0]!.op).toBe('commit');
		expect(await lab.isRunning()).toBe(true);
		// Active: s3 froze the image under the running top; merging it commits the top down and pivots.
		const active = await lab.merge('s3');
		expect(active.plan.steps[0]!.op).toBe('commit');
		expect(await lab.isRunning()).toBe(true);
		expect((await lab.liveTops())['vda']).toBe(path.basename(await lab.activeFile()));
		expect([await lab.reads(A, 1), await lab.reads(B, 2), await lab.reads(C, 3)]).toEqual([true, true, true]);
		expect(await lab.chain()).toHaveLength(2);

		await lab.revert('s1');
		expect([await lab.reads(A, 1), await lab.reads(B, 2), await lab.reads(C, 3)]).toEqual([true, false, false]);
	});

	it('a chain of live snapshots deep enough that QEMU cuts its json: image names (4 KiB) is still read, taken on, merged and reverted', async () => {
		const lab = await runningLab();
		await lab.guestWrite(A, 1);
		// Each live take nests the layers below in the overlay's json: name, each with its file's
		// path; with names this long, QEMU's 4 KiB cut it short about 20 layers down (40 with short ones).
		const name = (depth: number) => `s${depth}-${'n'.repeat(60)}`;
		for (let depth = 1; depth <= 24; depth++) await lab.take(name(depth));
		const client = await QmpClient.connect(path.join(lab.folder, 'qmp.sock'));
		const blocks = await client.execute<Array<{inserted?: {file: string}}>>('query-block');
		client.close();
		expect(imagePath(blocks.find(block => block.inserted)!.inserted!.file), 'the name QEMU gives is cut').toBeNull();
		await lab.guestWrite(B, 2);
		const {state} = await lab.hypervisor.inspect('live1');
		expect(state.run).toBe('running');
		expect((await lab.liveTops())['vda']).toBe(`vda.${name(24)}.qcow2`);
		await lab.take(name(25));
		await lab.merge(name(12));
		await lab.merge(name(25));
		expect(await lab.isRunning()).toBe(true);
		expect((await lab.liveTops())['vda']).toBe(path.basename(await lab.activeFile()));
		expect([await lab.reads(A, 1), await lab.reads(B, 2)]).toEqual([true, true]);
		await lab.revert(name(24));
		expect([await lab.reads(A, 1), await lab.reads(B, 2)]).toEqual([true, false]);
		expect((await lab.hypervisor.inspect('live1')).state.run).toBe('running');
	});

	it('a live take asks QEMU the same questions on a chain 24 deep, whose names QEMU cuts, as on a chain of 2: one read of the node list per step, no command per layer', async () => {
		const lab = await runningLab();
		const name = (depth: number) => `s${depth}-${'n'.repeat(60)}`;
		/** The QMP commands a take sends, by kind, over every connection it opens. */
		const asked = async (snapshot: string) => {
			const execute = vi.spyOn(QmpClient.prototype, 'execute');
			try {
				await lab.take(snapshot);
				const kinds: Record<string, number> = {};
				for (const [command] of execute.mock.calls) kinds[command] = (kinds[command] ?? 0) + 1;
				return kinds;
			} finally {
				execute.mockRestore();
			}
		};
		await lab.take(name(1));
		const shallow = await asked(name(2));
		for (let depth = 3; depth <= 23; depth++) await lab.take(name(depth));
		const client = await QmpClient.connect(path.join(lab.folder, 'qmp.sock'));
		const blocks = await client.execute<Array<{inserted?: {file: string}}>>('query-block');
		client.close();
		expect(imagePath(blocks.find(block => block.inserted)!.inserted!.file), 'the name QEMU gives is cut').toBeNull();
		const deep = await asked(name(24));
		expect((await lab.liveTops())['vda']).toBe(`vda.${name(24)}.qcow2`);

		// The preflight's question about damage, and one read for each of the take's two steps.
		expect(shallow['query-named-block-nodes']).toBeLessThanOrEqual(3);
		// A cut name is followed through the block graph: at most once per read of the node list.
		const graph = 'x-debug-query-block-graph';
		const others = (kinds: Record<string, number>) => Object.entries(kinds).filter(([kind]) => kind !== graph);
		expect(deep[graph] ?? 0).toBeLessThanOrEqual(deep['query-named-block-nodes'] ?? 0);
		expect(others(deep)).toEqual(others(shallow));
		expect(deep['blockdev-del']).toBeUndefined();
	});

	it('live merge by streaming, when the frozen image is the smaller side', async () => {
		const lab = await runningLab();
		await lab.guestWrite(A, 1);
		await lab.take('s1');
		await lab.guestWrite(B, 2, 'vda', 8);
		const {plan} = await lab.merge('s1');
		expect(plan.steps.map(step => step.op)).toEqual(['rebase', 'write-definition', 'delete-image']);
		expect(plan.steps[0]).toMatchObject({copy: true, backing: null});
		expect(await lab.isRunning()).toBe(true);
		expect(await lab.chain()).toEqual(['vda.s1.qcow2']);
		expect([await lab.reads(A, 1), await lab.reads(B, 2)]).toEqual([true, true]);
	});

	it('a live merge is not refused for an image the running QEMU is writing: qemu-img check -U misreads it, QEMU is asked instead', async () => {
		const lab = await runningLab();
		await lab.take('s1');
		// Lazy refcounts leave the running image's refcounts behind its tables, exactly what a
		// busy guest does between QEMU's flushes; qemu-img check -U then sees damage.
		await lab.service.power('live1', false, 'test');
		await execa('qemu-img', ['amend', '-o', 'lazy_refcounts=on', '--', await lab.activeFile()]);
		await lab.service.power('live1', true, 'test');
		await lab.guestWrite(B, 2, 'vda', 8);
		expect((await qemuImg.check(await lab.activeFile())).corruptions).toBeGreaterThan(0);

		const {plan} = await lab.merge('s1');
		expect(plan.steps.length).toBeGreaterThan(0);
		expect(await lab.isRunning()).toBe(true);
		expect(await lab.reads(B, 2)).toBe(true);
		await lab.service.power('live1', false, 'test');
		expect(await lab.imagesHealthy()).toBe(true);
	});

	it("start and stop run as jobs: under the VM's lock, and journalled with how long they took; one that changes nothing journals nothing", async () => {
		const lab = await runningLab();
		expect(await lab.service.power('live1', false, 'snapdeck stop live1')).toBe(true);
		expect(await lab.service.power('live1', false, 'snapdeck stop live1')).toBe(false);
		expect(await lab.service.power('live1', true, 'snapdeck start live1')).toBe(true);
		const journal = (await readFile(path.join(lab.folder, '.snapdeck', 'journal.jsonl'), 'utf8'))
			.trim()
			.split('\n')
			.map(line => JSON.parse(line) as {action: string; outcome: string; durationMs?: number; message?: string});
		const power = journal.filter(entry => entry.action === 'start' || entry.action === 'stop');
		// The first start is runningLab's.
		expect(power.map(entry => `${entry.action} ${entry.outcome}`)).toEqual([
			'start started',
			'start done',
			'stop started',
			'stop done',
			'start started',
			'start done',
		]);
		expect(power[2]!.message).toBe('stop (running)');
		expect(power[3]!.durationMs).toBeGreaterThan(0);
		// Held by another operation, the VM is neither stopped nor journalled.
		const release = await lab.hypervisor.lock('live1', 'snapdeck backup live1');
		try {
			await expect(lab.service.power('live1', false, 'snapdeck stop live1')).rejects.toThrow(/snapdeck backup live1/);
			await expect(lab.service.power('live1', false, 'snapdeck stop live1')).rejects.toMatchObject({
				kind: 'locked',
				code: 'busy',
			});
		} finally {
			await release();
		}
		expect(await lab.isRunning()).toBe(true);
	});

	it("a live merge waits for QEMU's monitor when other clients fill it (one served, one queued), instead of taking the VM for stopped", async () => {
		const lab = await runningLab();
		await lab.guestWrite(A, 1);
		await lab.take('s1');
		await lab.guestWrite(B, 2);
		await holdMonitor(path.join(lab.folder, 'qmp.sock'), 1500);
		const {plan} = await lab.merge('s1');
		expect(plan.steps[0]!.op).toBe('commit');
		expect(await lab.isRunning()).toBe(true);
		expect([await lab.reads(A, 1), await lab.reads(B, 2)]).toEqual([true, true]);
	});

	it("stop while other clients fill QEMU's monitor for a moment waits for it and quits QEMU through QMP, and the journal says how", async () => {
		const lab = await runningLab('live9');
		await holdMonitor(path.join(lab.folder, 'qmp.sock'), 1000);
		expect(await lab.service.power('live9', false, 'test')).toBe(true);
		expect(await lab.isRunning()).toBe(false);
		const journal = (await readFile(path.join(lab.folder, '.snapdeck', 'journal.jsonl'), 'utf8'))
			.trim()
			.split('\n')
			.map(line => JSON.parse(line) as {action: string; outcome: string; message?: string});
		// Not SIGTERM: the guest was told to stop (what it had not written would otherwise be lost).
		expect(journal.filter(entry => entry.action === 'stop').at(-1)).toMatchObject({
			outcome: 'done',
			message: 'stopped through QMP quit',
		});
	});

	it('stop says stopped only once no QEMU of the VM runs: one whose pid file is gone and whose monitor does not answer is found by its command line and ended', async () => {
		const lab = await runningLab('live10');
		const pid = Number((await readFile(path.join(lab.folder, '.snapdeck', 'qemu.pid'), 'utf8')).trim());
		// The pid file lost, the monitor held by other clients: neither says where QEMU is.
		await rm(path.join(lab.folder, '.snapdeck', 'qemu.pid'));
		await holdMonitor(path.join(lab.folder, 'qmp.sock'), 8000);
		expect(await lab.service.power('live10', false, 'test')).toBe(true);
		expect(await processAlive(pid)).toBe(false);
		expect(await lab.isRunning()).toBe(false);
	});

	it('a live snapshot interrupted between its steps is finished by recover', async () => {
		const lab = await runningLab('live4', ['vda', 'vdb']);
		const crashed = await execa(
			path.resolve('bin/snapdeck'),
			['snapshot', 'live4', 's1', '--yes', '--connect', `local:${lab.root}`],
			{reject: false, env: {SNAPDECK_CRASH_AT: 'after:2'}},
		);
		expect(crashed.signal).toBe('SIGKILL');
		// Both overlays exist, neither disk has switched: the VM runs on as before.
		expect(await lab.liveTops()).toEqual({vda: 'vda.qcow2', vdb: 'vdb.qcow2'});
		const recovered = await execa(
			path.resolve('bin/snapdeck'),
			['recover', 'live4', '--connect', `local:${lab.root}`],
			{reject: false},
		);
		expect(recovered.exitCode).toBe(0);
		expect(await lab.liveTops()).toEqual({vda: 'vda.s1.qcow2', vdb: 'vdb.s1.qcow2'});
		expect((await lab.vmFile()).current).toBe('s1');
	});

	it('--quiesce is refused with the choice when the VM has no guest agent channel', async () => {
		const lab = await runningLab();
		const take = lab.service.perform(
			{kind: 'take', vm: 'live1', request: {name: 'q1', kind: 'external', quiesce: true, now: new Date()}},
			{command: 'test', confirm: async () => true},
		);
		await expect(take).rejects.toThrow('cannot quiesce live1: its vm.json names no guest agent socket');
		expect((await lab.vmFile()).snapshots).toEqual([]);
		expect(await lab.liveTops()).toEqual({vda: 'vda.qcow2'});
	});

	it('a snapshot with memory is taken and loaded without a restart', async () => {
		const lab = await runningLab();
		await lab.guestWrite(A, 1);
		const {plan} = await lab.service.perform(
			{kind: 'take', vm: 'live1', request: {name: 'm1', kind: 'external', memory: true, now: new Date()}},
			{command: 'test', confirm: async () => true},
		);
		expect(plan.steps.map(step => step.op)).toEqual(['internal-create', 'write-definition']);
		const info = await qemuImg.info(await lab.activeFile());
		expect(info.snapshots?.find(snapshot => snapshot.name === 'm1')?.['vm-state-size']).toBeGreaterThan(0);
		await lab.guestWrite(B, 1);
		const revert = await lab.revert('m1');
		expect(revert.plan.steps.map(step => step.op)).toEqual(['internal-apply', 'write-definition']);
		expect(await lab.isRunning()).toBe(true);
		expect(await lab.reads(A, 1)).toBe(true);
	});

	it('a two-disk live snapshot is atomic: both disks switch, or neither does', async () => {
		const lab = await runningLab('live2', ['vda', 'vdb']);
		await lab.take('s1');
		expect(await lab.liveTops()).toEqual({vda: 'vda.s1.qcow2', vdb: 'vdb.s1.qcow2'});

		// Now make the second disk's switch fail inside QEMU's transaction: another process holds its new overlay.
		const {executor, define} = await overlaysMade(lab, 'live2', 's2');
		try {
			// Mark vdb's new overlay corrupt (qcow2 header, incompatible feature bit 1): it still reads, but QEMU will not open it for writing.
			const handle = await open(path.join(lab.folder, 'vdb.s2.qcow2'), 'r+');
			const features = Buffer.alloc(8);
			await handle.read(features, 0, 8, 72);
			features.writeBigUInt64BE(features.readBigUInt64BE() | 2n);
			await handle.write(features, 0, 8, 72);
			await handle.close();
			await expect(executor.execute(define, {resuming: false, onProgress: () => {}})).rejects.toThrow(
				/QEMU refused transaction: .*corrupt/,
			);
		} finally {
			await executor.close?.();
		}
		expect(await lab.liveTops()).toEqual({vda: 'vda.s1.qcow2', vdb: 'vdb.s1.qcow2'});
		expect((await lab.vmFile()).snapshots.map(snapshot => snapshot.name)).toEqual(['s1']);
	});

	it('refuses to switch a running disk to an overlay that is not built on what the VM runs, before QEMU is asked', async () => {
		const lab = await runningLab('live8');
		const {executor, define} = await overlaysMade(lab, 'live8', 's1');
		try {
			// Between the steps, the new overlay is made to name another base (as a stray tool could).
			await qemuImg.create(path.join(lab.folder, 'other.qcow2'), {size: 256 * 1024 * 1024});
			await execa('qemu-img', [
				'rebase',
				'-u',
				'-f',
				'qcow2',
				'-F',
				'qcow2',
				'-b',
				'other.qcow2',
				path.join(lab.folder, 'vda.s1.qcow2'),
			]);
			await expect(executor.execute(define, {resuming: false, onProgress: () => {}})).rejects.toThrow(
				/the running VM's disk vda is on .*vda\.qcow2, which vda\.s1\.qcow2 is not built on/,
			);
		} finally {
			await executor.close?.();
		}
		expect(await lab.liveTops()).toEqual({vda: 'vda.qcow2'});
		expect((await lab.vmFile()).snapshots).toEqual([]);
	});

	it('a merge cancelled half-way leaves the VM running on an intact chain and vm.json unchanged', async () => {
		const lab = await runningLab('live3', ['vda'], 1024);
		await lab.take('s1');
		await lab.guestWrite(B, 0, 'vda', 600);
		await lab.take('s2');
		// Both layers big, the top smaller: the planner commits the 512 MiB top down, a long job.
		await lab.guestWrite(A, 0, 'vda', 512);
		const before = await readFile(path.join(lab.folder, 'vm.json'), 'utf8');
		const chainBefore = await lab.chain();
		const controller = new AbortController();
		const run = lab.service.perform(
			{kind: 'merge', vm: 'live3', snapshot: 's2'},
			{
				command: 'test',
				confirm: async () => true,
				signal: controller.signal,
				onEvent: event => {
					if (event.type === 'progress' && event.fraction < 1) controller.abort();
				},
			},
		);
		await expect(run).rejects.toThrow(/cancelled/);
		expect(await lab.isRunning()).toBe(true);
		expect(await readFile(path.join(lab.folder, 'vm.json'), 'utf8')).toBe(before);
		expect(await lab.chain()).toEqual(chainBefore);
		expect((await lab.liveTops())['vda']).toBe(chainBefore[0]);
		expect(await lab.reads(A, 0)).toBe(true);
	});
});
