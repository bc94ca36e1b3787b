import {createHash, randomBytes} from 'node:crypto';
import {readFile, writeFile} from 'node:fs/promises';
import path from 'node:path';
import {describe, expect, it} from 'vitest';
import {sha256File} from '../../source/backup/hashing.js';
import {tempDir} from '../helpers/lab.js';

describe('the checksums of points', () => {
	it('a big file is hashed in a thread of its own, several at once: the same sum as hashing it here, every byte counted', async () => {
		const dir = await tempDir();
		const files = await Promise.all(
			['vda', 'vdb'].map(async (disk, index) => {
				const file = path.join(dir, `${disk}.qcow2`);
				// Over the threshold (64 MiB), and not a whole number of the thread's reads.
				await writeFile(file, Buffer.concat([randomBytes(80 << 20), Buffer.from([index])]));
				return file;
			}),
		);
		const counted = [0, 0];
		const sums = await Promise.all(
			files.map((file, index) => sha256File(file, undefined, bytes => (counted[index]! += bytes))),
		);
		const expected = await Promise.all(
			files.map(async file =>
				createHash('sha256')
					.update(await readFile(file))
					.digest('hex'),
			),
		);
		expect(sums).toEqual(expected);
		expect(sums[0]).not.toBe(sums[1]);
		expect(counted).toEqual([(80 << 20) + 1, (80 << 20) + 1]);
	});

	it('a small file is hashed the same way, and a cancel stops a big one with an abort', async () => {
		const dir = await tempDir();
		const small = path.join(dir, 'small.qcow2');
		await writeFile(small, 'point');
		expect(await sha256File(small)).toBe(createHash('sha256').update('point').digest('hex'));
		const big = path.join(dir, 'big.qcow2');
		await writeFile(big, Buffer.alloc(256 << 20, 7));
		const cancel = new AbortController();
		const hashing = sha256File(big, cancel.signal, () => cancel.abort());
		await expect(hashing).rejects.toMatchObject({name: 'AbortError'});
	});
});
