import {createHash} from 'node:crypto';
import {readdir, readFile} from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import {describe, expect, it} from 'vitest';
import {writeVmFile, type VmFile} from '../../source/adapters/local/vm-file.js';
import {labWithVm} from '../helpers/lab.js';

const GREETING = `${JSON.stringify({QMP: {version: {qemu: {major: 7, minor: 2, micro: 0}}, capabilities: []}})}\n`;

/**
 * A socket that greets as QEMU's monitor does and answers each command with `answers[command]`
 * ({} where it has none): what a co-tenant who can write a VM's folder can put behind its "qmp".
 */
async function scriptedMonitor(socket: string, answers: Record<string, unknown>) {
	const server = net.createServer(connection => {
		connection.on('error', () => undefined);
		connection.write(GREETING);
		let buffer = '';
		connection.on('data', chunk => {
			buffer += chunk.toString('utf8');
			for (let newline = buffer.indexOf('\n'); newline >= 0; newline = buffer.indexOf('\n')) {
				const {execute, id} = JSON.parse(buffer.slice(0, newline)) as {execute: string; id: string};
				buffer = buffer.slice(newline + 1);
				connection.write(`${JSON.stringify({return: answers[execute] ?? {}, id})}\n`);
			}
		});
	});
	await new Promise<void>(resolve => server.listen(socket, resolve));
	return {close: () => new Promise(resolve => server.close(resolve))};
}

/** Every file under `folder` (the monitor's socket aside) with its sha256: what a refused command must leave as it was. */
async function contents(folder: string): Promise<Record<string, string>> {
	const entries = await readdir(folder, {recursive: true, withFileTypes: true});
	const files = entries.filter(entry => entry.isFile()).map(entry => path.join(entry.parentPath, entry.name));
	return Object.fromEntries(
		await Promise.all(
			files.map(async file => [
				path.relative(folder, file),
				createHash('sha256')
					.update(await readFile(file))
					.digest('hex'),
			]),
		),
	);
}

describe("a VM whose vm.json names a monitor that is not its own QEMU's", () => {
	it('a merge and a take are refused before they start: nothing changed, nothing left for recover', async () => {
		const lab = await labWithVm();
		await lab.take('s1');
		await lab.take('s2');
		const socket = path.join(lab.folder, 'qmp.sock');
		await writeVmFile(lab.folder, {...(await lab.vmFile()), qmp: 'qmp.sock'} satisfies VmFile);
		const foreign = {
			qdev: '/machine/peripheral/vda/virtio-backend',
			inserted: {'node-name': 'top', file: '/etc/shadow'},
		};
		const monitor = await scriptedMonitor(socket, {
			'query-block': [foreign],
			'query-named-block-nodes': [{'node-name': 'top', drv: 'qcow2', file: '/etc/shadow'}],
		});
		try {
			const before = await contents(lab.folder);
			// A merge's first step (a stream or commit) cannot be rolled back: it used to be left pending,
			// with 'run snapdeck recover', which met the same monitor and could never finish.
			await expect(lab.merge('s1')).rejects.toThrow(/merge of vm1 failed, nothing was changed: .*it is another VM's/);
			await expect(lab.take('s3')).rejects.toThrow(/take of vm1 failed, nothing was changed: .*it is another VM's/);
			const after = await contents(lab.folder);
			const changed = Object.keys(after).filter(
				file => after[file] !== before[file] && !file.endsWith('journal.jsonl'),
			);
			expect(changed).toEqual([]);
		} finally {
			await monitor.close();
		}
	});
});
