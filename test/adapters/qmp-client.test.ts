import net from 'node:net';
import path from 'node:path';
import {execa} from 'execa';
import {describe, expect, it} from 'vitest';
import {runJob} from '../../source/adapters/qemu/qmp-block.js';
import {QmpClient, QmpError} from '../../source/adapters/qemu/qmp-client.js';
import {fakeMonitor, QMP_GREETING, reply} from '../helpers/fake-monitor.js';
import {tempDir} from '../helpers/lab.js';
import {runningLab} from '../helpers/live.js';

describe('the QMP client, against a real QEMU', () => {
	it('shakes hands, matches replies to commands, reports errors, delivers events', async () => {
		const lab = await runningLab();
		const client = await lab.qmp();
		try {
			const [status, version] = await Promise.all([
				client.execute<{status: string}>('query-status'),
				client.execute<{qemu: {major: number}}>('query-version'),
			]);
			expect(status.status).toBe('running');
			expect(version.qemu.major).toBeGreaterThanOrEqual(7);

			const refused = await client.execute('no-such-command').catch((error: unknown) => error);
			expect(refused).toBeInstanceOf(QmpError);
			expect((refused as QmpError).errorClass).toBe('CommandNotFound');

			const events: string[] = [];
			const unsubscribe = client.onEvent(event => events.push(event.event));
			await client.execute('stop');
			await client.execute('cont');
			for (let waited = 0; events.length < 2 && waited < 5000; waited += 20)
				await new Promise(resolve => setTimeout(resolve, 20));
			unsubscribe();
			expect(events).toEqual(['STOP', 'RESUME']);
		} finally {
			client.close();
		}
	});

	it('says clearly when the VM goes away, and when there is none', async () => {
		const lab = await runningLab();
		const client = await lab.qmp();
		const gone = client.closed();
		await client.execute('quit').catch(() => undefined);
		expect(await gone).toContain('closed (the VM stopped?)');
		await expect(client.execute('query-status')).rejects.toThrow(/cannot run query-status: the QMP socket .* closed/);
		await expect(QmpClient.connect(`${lab.folder}/qmp.sock`, 1000)).rejects.toThrow(/cannot reach QEMU's QMP socket/);
	});
});

describe('the QMP client, against a socket that is not QEMU', () => {
	const greeting = QMP_GREETING;

	it('a greeting that is not QMP is refused with what to check, and nothing is thrown past it', async () => {
		const fake = await fakeMonitor('hello, I am not QEMU\n', () => undefined);
		try {
			await expect(QmpClient.connect(fake.socket, 2000)).rejects.toThrow(/did not greet as QEMU's monitor does/);
		} finally {
			await fake.close();
		}
	});

	it('an answer that is not JSON fails the command with a clear error (it used to throw out of the socket handler and crash)', async () => {
		const fake = await fakeMonitor(greeting, (_line, connection) =>
			connection.write('{"return": {}, "id": "snapdeck-1"}\n{"return": [{"trunc\n'),
		);
		try {
			const client = await QmpClient.connect(fake.socket, 2000);
			await expect(client.execute('query-block')).rejects.toThrow(/sent "a line that is not QMP: \{\\"return\\"/);
			await expect(client.execute('query-status')).rejects.toThrow(/cannot run query-status/);
		} finally {
			await fake.close();
		}
	});

	it('a monitor whose connect queue is full (EAGAIN) is waited for, not taken for a stopped VM', async () => {
		// A monitor process that does not accept for 1.5 s, as a QEMU busy serving another client;
		// its queue holds two connects, as QEMU's does, and both are taken by connects given up before.
		const socket = path.join(await tempDir(), 'qmp.sock');
		const monitor = execa(
			process.execPath,
			[
				'-e',
				`const net = require('node:net');
				const server = net.createServer(c => {
					c.on('error', () => {});
					c.write(process.argv[2]);
					c.on('data', () => c.write('{"return": {}, "id": "snapdeck-1"}\\n'));
				});
				server.listen({path: process.argv[1], backlog: 1}, () => {
					console.log('listening');
					Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 1500);
				});`,
				socket,
				greeting,
			],
			{reject: false},
		);
		try {
			await new Promise(resolve => monitor.stdout!.once('data', resolve));
			const refused: string[] = [];
			for (let queued = 0; queued < 3; queued++) {
				const given = net.connect(socket);
				given.on('error', (error: NodeJS.ErrnoException) => refused.push(error.code ?? ''));
				given.on('connect', () => given.destroy());
			}
			await new Promise(resolve => setTimeout(resolve, 100));
			expect(refused).toEqual(['EAGAIN']);
			const client = await QmpClient.connect(socket, 5000);
			client.close();
		} finally {
			monitor.kill();
			await monitor;
		}
	});

	it('a monitor that greets and then answers nothing: the command gives up, naming the socket and what to check', async () => {
		let answered = false;
		const fake = await fakeMonitor(greeting, (line, connection) => {
			if (!answered) connection.write(reply(line, {}));
			answered = true;
		});
		const {socket} = fake;
		try {
			const client = await QmpClient.connect(socket, 2000);
			const error = await client.execute('query-block', undefined, {timeoutMs: 300}).catch((caught: unknown) => caught);
			expect(String(error)).toContain(`QEMU did not answer query-block on ${socket} within 300 ms`);
			expect((error as {hint?: string}).hint).toMatch(/check "qmp" in its vm\.json/);
			client.close();
		} finally {
			await fake.close();
		}
	});

	it('a peer that never ends its line is cut off at 64 MiB, not held in memory', async () => {
		let answered = false;
		const fake = await fakeMonitor(greeting, (line, connection) => {
			if (answered) return;
			answered = true;
			connection.write(reply(line, {}));
			const block = 'x'.repeat(1 << 20);
			const pour = () => {
				while (!connection.destroyed && connection.write(block));
				if (!connection.destroyed) connection.once('drain', pour);
			};
			pour();
		});
		const {socket} = fake;
		try {
			const client = await QmpClient.connect(socket, 2000);
			await expect(client.execute('query-block')).rejects.toThrow(/more than 67108864 bytes without a line break/);
		} finally {
			await fake.close();
		}
	});
});

describe('a block job followed through a monitor that loses it', () => {
	it('a job QEMU acknowledges, then never lists nor ends: the job fails, naming it, instead of waiting forever', async () => {
		// The job is listed at first (progress is read), then no more, and no event ever says it ended.
		let listed = 2;
		const fake = await fakeMonitor(QMP_GREETING, (line, connection) => {
			const {execute} = JSON.parse(line) as {execute: string};
			if (execute !== 'query-jobs') return connection.write(reply(line, {}));
			const job = {id: startedId, type: 'backup', status: 'running', 'current-progress': 1, 'total-progress': 4};
			connection.write(reply(line, listed-- > 0 ? [job] : []));
		});
		let startedId = '';
		const fractions: number[] = [];
		const client = await QmpClient.connect(fake.socket, 2000);
		try {
			const outcome = await runJob(
				client,
				'backup',
				async id => {
					startedId = id;
					await client.execute('blockdev-backup', {'job-id': id});
				},
				{onProgress: fraction => fractions.push(fraction)},
			).catch((error: unknown) => error);
			expect(String(outcome)).toContain(
				`backup ended in QEMU without saying how: its monitor no longer lists job ${startedId}`,
			);
			expect(fractions).toContain(0.25);
			expect(fractions).not.toContain(1);
		} finally {
			client.close();
			await fake.close();
		}
	});
});
