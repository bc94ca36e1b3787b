import {lstat, readdir, readFile, readlink} from 'node:fs/promises';
import path from 'node:path';
import {Readable} from 'node:stream';
import {pack} from 'tar-stream';
import {describe, expect, it} from 'vitest';
import {applyFolderModes, unpackData} from '../../source/adapters/unpack-data.js';
import {tempDir} from '../helpers/lab.js';

/** A tar stream of `entries`, as a hostile archive could hold them. */
function archive(entries: Array<{name: string; type?: 'file' | 'directory' | 'symlink' | 'link' | 'character-device' | 'fifo'; mode?: number; linkname?: string; body?: string; uid?: number}>): Readable {
	const tar = pack();
	for (const {body, ...header} of entries) tar.entry({mode: 0o644, uid: 0, gid: 0, ...header}, body ?? '');
	tar.finalize();
	return Readable.from(tar as AsyncIterable<Buffer>);
}

describe('unpacking a guest\'s tar stream as data only', () => {
	it('writes files, folders and links inside the folder only, never through a link, and leaves out what is not data', async () => {
		const dir = await tempDir();
		const outside = path.join(dir, 'outside');
		const root = path.join(dir, 'copy');
		const unpacked = await unpackData(archive([
			{name: './', type: 'directory', mode: 0o755},
			{name: '../outside/escaped', body: 'no'},
			{name: 'link', type: 'symlink', linkname: outside},
			{name: 'link/through', body: 'no'},
			{name: 'mem', type: 'character-device', mode: 0o666},
			{name: 'fifo', type: 'fifo'},
			{name: 'suid', mode: 0o4755, body: 'suid\n', uid: 1234},
			{name: 'hard', type: 'link', linkname: 'suid', mode: 0o4755},
			{name: 'hard-out', type: 'link', linkname: '../../etc/passwd'},
			{name: 'dup', body: 'first'},
			{name: 'dup', body: 'second'},
			{name: 'deep/er/file', body: 'deep'},
			{name: 'ro/', type: 'directory', mode: 0o555},
			{name: 'ro/f', mode: 0o444, body: 'ro'},
		]), root, '/guest');
		await applyFolderModes(root, unpacked.folders);

		expect(await readdir(dir)).toEqual(['copy']);
		expect((await readdir(root, {recursive: true})).sort()).toEqual(['deep', 'deep/er', 'deep/er/file', 'dup', 'hard', 'link', 'ro', 'ro/f', 'suid']);
		expect(await readlink(path.join(root, 'link'))).toBe(outside);
		expect(await readFile(path.join(root, 'dup'), 'utf8')).toBe('first');
		expect(await readFile(path.join(root, 'hard'), 'utf8')).toBe('suid\n');
		const modes = Object.fromEntries(await Promise.all(['suid', 'hard', 'ro', 'ro/f', '.'].map(async file => [file, (await lstat(path.join(root, file))).mode & 0o7777])));
		expect(modes).toEqual({'suid': 0o755, 'hard': 0o755, 'ro': 0o555, 'ro/f': 0o444, '.': 0o755});
		expect((await lstat(path.join(root, 'suid'))).uid).toBe(process.getuid!());
		expect(unpacked.skipped.map(skip => `${skip.path} ${skip.type}`)).toEqual([
			'/guest/../outside/escaped unknown', '/guest/link/through unknown', '/guest/mem char-device', '/guest/fifo fifo',
			'/guest/hard-out hard-link', '/guest/dup unknown',
		]);
		expect(unpacked.dropped).toEqual(['/guest/suid: setuid not copied', '/guest/hard: setuid not copied']);
		expect([unpacked.files, unpacked.links, unpacked.bytes]).toEqual([5, 1, 'suid\n'.length + 'first'.length + 'deep'.length + 'ro'.length]);
	});
});
