import {describe, expect, it} from 'vitest';
import {QmpClient, QmpError} from '../../source/adapters/qemu/qmp-client.js';
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
