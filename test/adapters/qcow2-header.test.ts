import {open, rm, writeFile} from 'node:fs/promises';
import path from 'node:path';
import {describe, expect, it} from 'vitest';
import {execa} from 'execa';
import {headerChain, qcow2Info, readQcow2Header} from '../../source/adapters/qemu/qcow2-header.js';
import type {QemuImgInfo} from '../../source/adapters/qemu/qemu-img.js';
import {MiB, qemuImg, tempDir} from '../helpers/lab.js';
import {runningLab} from '../helpers/live.js';

describe('reading qcow2 headers directly, checked against qemu-img', () => {
	it('finds the same chain and size as qemu-img, for relative and absolute backing files', async () => {
		const dir = await tempDir();
		const base = path.join(dir, 'base.qcow2');
		await qemuImg.create(base, {size: 96 * MiB});
		await qemuImg.create(path.join(dir, 'mid.qcow2'), {backing: 'base.qcow2'});
		await qemuImg.create(path.join(dir, 'top.qcow2'), {backing: path.join(dir, 'mid.qcow2')});
		const top = path.join(dir, 'top.qcow2');
		const header = await readQcow2Header(top);
		const info = await qemuImg.info(top);
		expect(header).toEqual({
			virtualSize: info['virtual-size'],
			backing: info['full-backing-filename'],
			backingName: info['backing-filename'],
			corrupt: false,
		});
		expect(await headerChain(top)).toEqual({
			chain: [top, path.join(dir, 'mid.qcow2'), base],
			virtualSize: 96 * MiB,
			problem: null,
		});
	});

	it('reports a missing backing file, a file that is not qcow2, and the corrupt bit', async () => {
		const dir = await tempDir();
		await qemuImg.create(path.join(dir, 'base.qcow2'), {size: MiB});
		await qemuImg.create(path.join(dir, 'top.qcow2'), {backing: 'base.qcow2'});
		await rm(path.join(dir, 'base.qcow2'));
		expect((await headerChain(path.join(dir, 'top.qcow2'))).problem).toBe(
			`${path.join(dir, 'base.qcow2')} (the backing file of ${path.join(dir, 'top.qcow2')}) is missing`,
		);

		await writeFile(path.join(dir, 'raw.img'), Buffer.alloc(4096));
		expect((await headerChain(path.join(dir, 'raw.img'))).problem).toContain('cannot be read as a qcow2 image');

		const handle = await open(path.join(dir, 'top.qcow2'), 'r+');
		const features = Buffer.alloc(8);
		await handle.read(features, 0, 8, 72);
		features.writeBigUInt64BE(features.readBigUInt64BE() | 2n);
		await handle.write(features, 0, 8, 72);
		await handle.close();
		expect((await qemuImg.info(path.join(dir, 'top.qcow2')))['format-specific']?.data.corrupt).toBe(true);
		expect((await headerChain(path.join(dir, 'top.qcow2'))).problem).toContain('is marked corrupt by QEMU');
	});
});

async function readFileBytes(file: string, position: number, length: number) {
	const handle = await open(file, 'r');
	try {
		const buffer = Buffer.alloc(length);
		await handle.read(buffer, 0, length, position);
		return buffer;
	} finally {
		await handle.close();
	}
}

describe('reading snapshot tables and bitmap directories directly, checked against qemu-img', () => {
	/** What the inspection takes from `qemu-img info`, in the same shape from both readers. */
	const facts = (info: QemuImgInfo) => ({
		virtualSize: info['virtual-size'],
		actualSize: info['actual-size'],
		backing: info['full-backing-filename'] ?? null,
		corrupt: info['format-specific']?.data.corrupt ?? false,
		snapshots: (info.snapshots ?? []).map(({id, name, 'vm-state-size': vmStateSize, 'date-sec': dateSec}) => ({
			id,
			name,
			vmStateSize,
			dateSec,
		})),
		bitmaps: (info['format-specific']?.data.bitmaps ?? []).map(bitmap => bitmap.name),
	});
	const same = async (file: string) => {
		const direct = facts(await qcow2Info(file));
		expect(direct).toEqual(facts(await qemuImg.info(file)));
		return direct;
	};

	it('internal snapshots, bitmaps (enabled and disabled, odd names) and a relative backing file, in qcow2 v3 and v2', async () => {
		const dir = await tempDir();
		await qemuImg.create(path.join(dir, 'base.qcow2'), {size: 64 * MiB});
		const top = path.join(dir, 'top.qcow2');
		await qemuImg.create(top, {backing: 'base.qcow2'});
		for (const name of ['before upgrade', 'nightly-2026-11-25', 'ü'])
			await execa('qemu-img', ['snapshot', '-c', name, top]);
		await execa('qemu-img', ['snapshot', '-d', 'nightly-2026-11-25', top]);
		await execa('qemu-img', ['bitmap', '--add', top, 'snapdeck.abc.20261125T120000Z']);
		await execa('qemu-img', ['bitmap', '--add', '--disable', '-g', '128K', top, 'a-longer-bitmap-name-to-pad']);
		const facts3 = await same(top);
		expect(facts3.snapshots.map(snapshot => snapshot.name)).toEqual(['before upgrade', 'ü']);
		expect(facts3.bitmaps).toHaveLength(2);

		const old = path.join(dir, 'old.qcow2');
		await execa('qemu-img', ['create', '-q', '-f', 'qcow2', '-o', 'compat=0.10', old, '16M']);
		await execa('qemu-img', ['snapshot', '-c', 'v2-snap', old]);
		expect((await same(old)).snapshots).toHaveLength(1);
		expect((await same(path.join(dir, 'base.qcow2'))).snapshots).toEqual([]);
	});

	it('a snapshot with memory of a running VM (its state size) read while QEMU has the image open', async () => {
		const lab = await runningLab('hdr1', ['vda'], 64);
		const client = await lab.qmp();
		try {
			await client.execute('human-monitor-command', {'command-line': 'savevm with-memory'});
		} finally {
			client.close();
		}
		const direct = await same(await lab.activeFile());
		expect(direct.snapshots[0]!.vmStateSize).toBeGreaterThan(0);
	});

	it('a file that is not qcow2, or whose snapshot table is damaged, fails with words, never a crash', async () => {
		const dir = await tempDir();
		await writeFile(path.join(dir, 'raw.img'), Buffer.alloc(4096));
		await expect(qcow2Info(path.join(dir, 'raw.img'))).rejects.toThrow(/not a qcow2 image/);
		const damaged = path.join(dir, 'damaged.qcow2');
		await qemuImg.create(damaged, {size: 16 * MiB});
		await execa('qemu-img', ['snapshot', '-c', 's1', damaged]);
		// The first entry's extra data size (at byte 36 of the entry) set to 4 GiB - 1.
		const offset = Number((await readFileBytes(damaged, 64, 8)).readBigUInt64BE(0));
		const handle = await open(damaged, 'r+');
		await handle.write(Buffer.from([0xff, 0xff, 0xff, 0xff]), 0, 4, offset + 36);
		await handle.close();
		await expect(qcow2Info(damaged)).rejects.toThrow(/damaged header/);
	});
});
