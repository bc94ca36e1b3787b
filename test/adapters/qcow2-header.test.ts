import {open, rm, writeFile} from 'node:fs/promises';
import path from 'node:path';
import {describe, expect, it} from 'vitest';
import {headerChain, readQcow2Header} from '../../source/adapters/qcow2-header.js';
import {MiB, qemuImg, tempDir} from '../helpers/lab.js';

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
		expect(header).toEqual({virtualSize: info['virtual-size'], backing: info['full-backing-filename'], corrupt: false});
		expect(await headerChain(top)).toEqual({chain: [top, path.join(dir, 'mid.qcow2'), base], virtualSize: 96 * MiB, problem: null});
	});

	it('reports a missing backing file, a file that is not qcow2, and the corrupt bit', async () => {
		const dir = await tempDir();
		await qemuImg.create(path.join(dir, 'base.qcow2'), {size: MiB});
		await qemuImg.create(path.join(dir, 'top.qcow2'), {backing: 'base.qcow2'});
		await rm(path.join(dir, 'base.qcow2'));
		expect((await headerChain(path.join(dir, 'top.qcow2'))).problem).toBe(`${path.join(dir, 'base.qcow2')} (the backing file of ${path.join(dir, 'top.qcow2')}) is missing`);

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
