import {createHash} from 'node:crypto';
import {readdir, readFile} from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import {describe, expect, it} from 'vitest';
import {writeVmFile, type VmFile} from '../../source/adapters/local/vm-file.js';
import {imagePath} from '../../source/adapters/qemu/block-view.js';
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
		const monitor = await scriptedMonitor(socket, {
			'query-blockstats': [{qdev: '/machine/peripheral/vda/virtio-backend', 'node-name': 'top'}],
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

describe('image names from the monitor', () => {
	it('a relative name, a json: name with a relative file, and a name with a line break or escape are refused, quoted', () => {
		const names = [
			'vda.qcow2',
			`json:${JSON.stringify({driver: 'qcow2', file: {driver: 'file', filename: 'vda.qcow2'}})}`,
			'/lab/vm1/vda.qcow2\nsnapdeck: all good',
			'/lab/vm1/\u001b]0;title\u0007vda.qcow2',
		];
		for (const name of names) {
			const refused = (() => {
				try {
					return imagePath(name);
				} catch (error) {
					return error as Error;
				}
			})();
			expect(refused, name).toBeInstanceOf(Error);
			expect((refused as Error).message).toContain('QEMU names an image in a way snapdeck does not know');
			expect((refused as Error).message).not.toMatch(/[\n\u001b]/);
		}
		expect(imagePath('/lab/vm1/vda.qcow2')).toBe('/lab/vm1/vda.qcow2');
	});

	it("a take on a monitor whose disk's file name holds a line break fails with nothing changed, the name shown quoted", async () => {
		const lab = await labWithVm();
		await writeVmFile(lab.folder, {...(await lab.vmFile()), qmp: 'qmp.sock'} satisfies VmFile);
		const file = `${lab.folder}/vda.qcow2\nsnapdeck: done`;
		const monitor = await scriptedMonitor(path.join(lab.folder, 'qmp.sock'), {
			'query-blockstats': [{qdev: '/machine/peripheral/vda/virtio-backend', 'node-name': 'top'}],
			'query-named-block-nodes': [{'node-name': 'top', drv: 'qcow2', file}],
		});
		try {
			const failure = (await lab.take('s1').catch((error: unknown) => error)) as Error;
			expect(failure.message).toMatch(/take of vm1 failed, nothing was changed: QEMU names an image/);
			expect(failure.message).not.toContain('\n');
			expect((await readdir(lab.folder)).sort()).toEqual(['.snapdeck', 'qmp.sock', 'vda.qcow2', 'vm.json']);
			expect(await readdir(path.join(lab.folder, '.snapdeck'))).not.toContain('pending.json');
		} finally {
			await monitor.close();
		}
	});
});
