import {mkdir} from 'node:fs/promises';
import path from 'node:path';
import {execa} from 'execa';
import {describe, expect, it} from 'vitest';
import {makeWorkFolder, removeWorkFolder} from '../../source/adapters/state/work-folder.js';
import {fileExists} from '../../source/adapters/file-checks.js';
import {tempDir} from '../helpers/lab.js';

describe('removing a work folder a killed job left', () => {
	it('lets go of a process blocked opening one of its FIFOs for writing (guestfish, when its reader was killed)', async () => {
		const parent = await tempDir();
		const token = '0123456789abcdef';
		const name = `.snapdeck-work-${token}-extract`;
		const folder = await makeWorkFolder(parent, name, token);
		await mkdir(path.join(folder, 'guestfish'));
		const fifo = path.join(folder, 'guestfish', 'stream-0');
		await execa('mkfifo', [fifo]);
		// As guestfish's tar-out would: it opens the FIFO for writing and waits for a reader that is gone.
		const writer = execa('dd', ['if=/dev/zero', `of=${fifo}`, 'bs=64k', 'count=4'], {reject: false});
		try {
			await new Promise(resolve => setTimeout(resolve, 300));
			expect(writer.exitCode).toBeNull();
			expect(await removeWorkFolder({token}, {kind: 'folder', parent, name})).toEqual({removed: folder});
			const ended = await Promise.race([
				writer.then(() => true),
				new Promise(resolve => setTimeout(() => resolve(false), 5000)),
			]);
			expect(ended, 'the writer ended').toBe(true);
			expect(await fileExists(folder)).toBe(false);
		} finally {
			writer.kill('SIGKILL');
			await writer;
		}
	});
});
