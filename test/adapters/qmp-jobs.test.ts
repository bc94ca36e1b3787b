import {describe, expect, it} from 'vitest';
import {topNodes} from '../../source/adapters/qemu/block-view.js';
import {clearLeftovers, runJob} from '../../source/adapters/qemu/qmp-block.js';
import {QmpClient} from '../../source/adapters/qemu/qmp-client.js';
import {fakeMonitor, QMP_GREETING, reply} from '../helpers/fake-monitor.js';

/** A monitor that misbehaves, as snapdeck meets it: no QEMU needed, the monitor is a socket of the test's. */
describe('a monitor that misbehaves', () => {
	it('a monitor that takes the job and then answers nothing: the job fails saying so, one read at a time, instead of waiting forever', async () => {
		const asked: number[] = [];
		const fake = await fakeMonitor(QMP_GREETING, (line, connection) => {
			const {execute} = JSON.parse(line) as {execute: string};
			if (execute !== 'query-jobs') return void connection.write(reply(line, {}));
			// Never answered.
			asked.push(performance.now());
		});
		const client = await QmpClient.connect(fake.socket, 2000);
		try {
			let started = '';
			const outcome = await runJob(
				client,
				'backup',
				async id => {
					started = id;
					await client.execute('blockdev-backup', {'job-id': id});
				},
				{monitorTimeoutMs: 1000},
			).catch((error: unknown) => error);
			expect(String(outcome)).toContain(
				`backup: QEMU's monitor stopped answering (3 reads of job ${started} in a row got no usable answer)`,
			);
			expect(asked).toHaveLength(3);
			// One read at a time: the next is sent only once the one before has given up (not every 250 ms tick).
			const gaps = asked.slice(1).map((at, index) => at - asked[index]!);
			expect(
				gaps.every(gap => gap >= 950),
				JSON.stringify(gaps),
			).toBe(true);
		} finally {
			client.close();
			await fake.close();
		}
	});

	it('progress QEMU reports past the whole, or below nothing, is reported within 0 and the whole', async () => {
		let reads = 0;
		const progress: Array<[number, number]> = [
			[9, 4],
			[-3, 4],
			[2, 4],
		];
		let jobId = '';
		const fake = await fakeMonitor(QMP_GREETING, (line, connection) => {
			const {execute} = JSON.parse(line) as {execute: string};
			if (execute !== 'query-jobs') return void connection.write(reply(line, {}));
			const [current, total] = progress[Math.min(reads++, progress.length - 1)]!;
			const job = {id: jobId, type: 'backup', status: 'running', 'current-progress': current, 'total-progress': total};
			connection.write(reply(line, [job]));
			if (reads === progress.length)
				connection.write(
					`${JSON.stringify({event: 'BLOCK_JOB_COMPLETED', data: {device: jobId, len: 4, offset: 4}, timestamp: {seconds: 0, microseconds: 0}})}\n`,
				);
		});
		const client = await QmpClient.connect(fake.socket, 2000);
		const fractions: number[] = [];
		const bytes: Array<[number, number]> = [];
		try {
			await runJob(
				client,
				'backup',
				async id => {
					jobId = id;
					await client.execute('blockdev-backup', {'job-id': id});
				},
				{onProgress: fraction => fractions.push(fraction), onBytes: (done, total) => bytes.push([done, total])},
			);
			expect(bytes).toEqual([
				[4, 4],
				[0, 4],
				[2, 4],
			]);
			expect(fractions).toEqual([1, 0, 0.5, 1]);
		} finally {
			client.close();
			await fake.close();
		}
	});

	it('a monitor that names one device or one node twice is refused, not read as whichever came last', async () => {
		const device = (qdev: string, node: string) => ({qdev, 'node-name': node});
		const node = (name: string, file: string) => ({'node-name': name, drv: 'qcow2', file});
		const answers: Record<string, Record<string, unknown[]>> = {
			devices: {
				'query-blockstats': [
					device('/machine/peripheral/vda/virtio-backend', 'a'),
					device('/machine/peripheral/vda/virtio-backend', 'b'),
				],
				'query-named-block-nodes': [node('a', '/vms/x/vda.qcow2'), node('b', '/elsewhere/y.qcow2')],
			},
			nodes: {
				'query-blockstats': [device('/machine/peripheral/vda/virtio-backend', 'a')],
				'query-named-block-nodes': [node('a', '/vms/x/vda.qcow2'), node('a', '/elsewhere/y.qcow2')],
			},
		};
		for (const [twice, said] of [
			['devices', 'two devices have one qdev path'],
			['nodes', 'two nodes have one node name'],
		] as const) {
			const fake = await fakeMonitor(QMP_GREETING, (line, connection) => {
				const {execute} = JSON.parse(line) as {execute: string};
				connection.write(reply(line, answers[twice]![execute] ?? {}));
			});
			const client = await QmpClient.connect(fake.socket, 2000);
			try {
				const outcome = await topNodes(client).catch((error: unknown) => error);
				expect(String(outcome), twice).toContain(said);
			} finally {
				client.close();
				await fake.close();
			}
		}
	});

	it('an export list of a shape QEMU never sends is refused by name; a QEMU that has no exports (it refuses the command) has none to clear', async () => {
		for (const exports of ['hostile', 'unknown'] as const) {
			const fake = await fakeMonitor(QMP_GREETING, (line, connection) => {
				const {execute, id} = JSON.parse(line) as {execute: string; id?: string};
				if (execute === 'x-debug-query-block-graph') return void connection.write(reply(line, {nodes: [], edges: []}));
				if (execute !== 'query-block-exports')
					return void connection.write(reply(line, execute.startsWith('query-') ? [] : {}));
				connection.write(
					exports === 'hostile'
						? reply(line, [{id: 5}])
						: `${JSON.stringify({error: {class: 'CommandNotFound', desc: 'The command query-block-exports has not been found'}, id})}\n`,
				);
			});
			const client = await QmpClient.connect(fake.socket, 2000);
			try {
				const outcome = await clearLeftovers(client).catch((error: unknown) => error);
				if (exports === 'hostile')
					expect(String(outcome)).toContain('QEMU answered query-block-exports with a shape snapdeck does not know');
				else expect(outcome).toEqual([]);
			} finally {
				client.close();
				await fake.close();
			}
		}
	});
});
