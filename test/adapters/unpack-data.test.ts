import {
	chmod,
	chown,
	link,
	lstat,
	mkdir,
	readdir,
	readFile,
	readlink,
	rename,
	rm,
	symlink,
	writeFile,
} from 'node:fs/promises';
import path from 'node:path';
import {Readable} from 'node:stream';
import {execa} from 'execa';
import {pack} from 'tar-stream';
import {describe, expect, it} from 'vitest';
import {applyModes, unpackData} from '../../source/adapters/unpack-data.js';
import {tempDir} from '../helpers/lab.js';

/** A tar stream of `entries`, as a hostile archive could hold them. */
function archive(
	entries: Array<{
		name: string;
		type?: 'file' | 'directory' | 'symlink' | 'link' | 'character-device' | 'block-device' | 'fifo';
		mode?: number;
		linkname?: string;
		body?: string;
		uid?: number;
	}>,
): Readable {
	const tar = pack();
	for (const {body, ...header} of entries) tar.entry({mode: 0o644, uid: 0, gid: 0, ...header}, body ?? '');
	tar.finalize();
	return Readable.from(tar as AsyncIterable<Buffer>);
}

describe("unpacking a guest's tar stream as data only", () => {
	it('writes files, folders and links inside the folder only, never through a link, and leaves out what is not data', async () => {
		const dir = await tempDir();
		const outside = path.join(dir, 'outside');
		const root = path.join(dir, 'copy');
		const unpacked = await unpackData(
			archive([
				{name: './', type: 'directory', mode: 0o755},
				{name: '../outside/escaped', body: 'no'},
				{name: 'link', type: 'symlink', linkname: outside},
				{name: 'link/through', body: 'no'},
				{name: 'mem', type: 'character-device', mode: 0o666},
				{name: 'fifo', type: 'fifo'},
				{name: 'sda', type: 'block-device', mode: 0o660},
				{name: 'suid', mode: 0o4755, body: 'suid\n', uid: 1234},
				{name: 'open-suid', mode: 0o6777, body: ''},
				{name: 'tmp/', type: 'directory', mode: 0o1777},
				{name: 'hard', type: 'link', linkname: 'suid', mode: 0o4755},
				{name: 'hard-out', type: 'link', linkname: '../../etc/passwd'},
				{name: 'dup', body: 'first'},
				{name: 'dup', body: 'second'},
				{name: 'deep/er/file', body: 'deep'},
				{name: 'ro/', type: 'directory', mode: 0o555},
				{name: 'ro/f', mode: 0o444, body: 'ro'},
			]),
			root,
			'/guest',
		);
		await applyModes(root, unpacked.modes);

		expect(await readdir(dir)).toEqual(['copy']);
		expect((await readdir(root, {recursive: true})).sort()).toEqual([
			'deep',
			'deep/er',
			'deep/er/file',
			'dup',
			'hard',
			'link',
			'open-suid',
			'ro',
			'ro/f',
			'suid',
			'tmp',
		]);
		expect(await readlink(path.join(root, 'link'))).toBe(outside);
		expect(await readFile(path.join(root, 'dup'), 'utf8')).toBe('first');
		expect(await readFile(path.join(root, 'hard'), 'utf8')).toBe('suid\n');
		const modes = Object.fromEntries(
			await Promise.all(
				['suid', 'hard', 'open-suid', 'tmp', 'ro', 'ro/f', '.'].map(async file => [
					file,
					(await lstat(path.join(root, file))).mode & 0o7777,
				]),
			),
		);
		expect(modes).toEqual({
			suid: 0o755,
			hard: 0o755,
			'open-suid': 0o755,
			tmp: 0o755,
			ro: 0o555,
			'ro/f': 0o444,
			'.': 0o755,
		});
		expect((await lstat(path.join(root, 'suid'))).uid).toBe(process.getuid!());
		expect(unpacked.skipped.map(skip => `${skip.path} ${skip.type}`)).toEqual([
			'/guest/../outside/escaped unknown',
			'/guest/link/through unknown',
			'/guest/mem char-device',
			'/guest/fifo fifo',
			'/guest/sda block-device',
			'/guest/hard-out hard-link',
			'/guest/dup unknown',
		]);
		expect(unpacked.dropped).toEqual([
			'/guest/suid: setuid not copied',
			'/guest/open-suid: setuid, setgid, group and other write not copied',
			'/guest/tmp: sticky, group and other write not copied',
			'/guest/hard: setuid not copied',
		]);
		expect([unpacked.files, unpacked.links, unpacked.bytes]).toEqual([
			6,
			1,
			'suid\n'.length + 'first'.length + 'deep'.length + 'ro'.length,
		]);
	});
});

/** `files` (name bytes -> body, or a mode; `hard` names a file to link to) made in a new folder, archived by GNU tar as guestfish's tar-out does. */
async function gnuTar(files: Array<{name: Buffer; body?: string; mode?: number; hard?: Buffer}>): Promise<Readable> {
	const src = path.join(await tempDir(), 'src');
	await mkdir(src);
	const at = (name: Buffer) => Buffer.concat([Buffer.from(`${src}/`), name]);
	for (const file of files) {
		if (file.hard) await link(at(file.hard), at(file.name));
		else await writeFile(at(file.name), file.body ?? '');
	}
	for (const file of files) if (file.mode !== undefined) await chmod(at(file.name), file.mode);
	const {stdout} = await execa('tar', ['-C', src, '--numeric-owner', '-cf', '-', '.'], {encoding: 'buffer'});
	return Readable.from([Buffer.from(stdout)]);
}

describe('unpacking names and modes a guest chose', () => {
	it('keeps names that are not UTF-8, or hold a line break, byte for byte, and says them escaped', async () => {
		const latin1 = Buffer.from([0x63, 0x61, 0x66, 0xe9]);
		const long = Buffer.concat([Buffer.from('x'.repeat(120)), Buffer.from([0xff])]);
		const root = path.join(await tempDir(), 'copy');
		const unpacked = await unpackData(
			await gnuTar([
				{name: latin1, body: 'latin1\n', mode: 0o4777},
				{name: Buffer.from('new\nline'), body: 'nl\n'},
				{name: long, body: 'long\n'},
			]),
			root,
			'/guest',
		);
		await applyModes(root, unpacked.modes);
		const names = (await readdir(root, {encoding: 'buffer'})).map(name => name.toString('hex')).sort();
		expect(names).toEqual([latin1, Buffer.from('new\nline'), long].map(name => name.toString('hex')).sort());
		expect(await readFile(Buffer.concat([Buffer.from(`${root}/`), latin1]), 'utf8')).toBe('latin1\n');
		expect(await readFile(Buffer.concat([Buffer.from(`${root}/`), long]), 'utf8')).toBe('long\n');
		expect(unpacked.dropped).toEqual(['/guest/caf\\xe9: setuid, group and other write not copied']);
	});

	it('copies a hard link to a file the guest made unreadable, as whoever runs it (not only root)', async () => {
		const dir = await tempDir();
		const root = path.join(dir, 'copy');
		const tar = await gnuTar([
			{name: Buffer.from('locked'), body: 'secret\n', mode: 0o000},
			{name: Buffer.from('again'), hard: Buffer.from('locked')},
		]);
		// Root reads anything: unpacked as an ordinary user, as most operators run it.
		const asNobody = process.getuid?.() === 0;
		if (asNobody) await chown(dir, 65534, 65534);
		if (asNobody) process.seteuid!(65534);
		let unpacked;
		try {
			unpacked = await unpackData(tar, root, '/guest');
			await applyModes(root, unpacked.modes);
		} finally {
			if (asNobody) process.seteuid!(0);
		}
		expect(unpacked.skipped).toEqual([]);
		expect([unpacked.files, unpacked.bytes]).toEqual([2, 'secret\n'.length]);
		for (const name of ['locked', 'again']) expect((await lstat(path.join(root, name))).mode & 0o777, name).toBe(0);
		expect(await readFile(path.join(root, 'again'), 'utf8')).toBe('secret\n');
		if (asNobody) await chown(root, 0, 0);
	});

	it('sets modes through the entry itself: a link planted in its place before is not followed', async () => {
		const dir = await tempDir();
		const outside = path.join(dir, 'outside');
		await mkdir(outside, {mode: 0o700});
		await writeFile(path.join(outside, 'file'), 'mine\n', {mode: 0o600});
		const root = path.join(dir, 'copy');
		const unpacked = await unpackData(
			archive([
				{name: 'open/', type: 'directory', mode: 0o777},
				{name: 'open/inner', mode: 0o666, body: 'inner'},
				{name: 'file', mode: 0o666, body: 'file'},
			]),
			root,
			'/guest',
		);
		// Something swaps a folder and a file of the copy for links to the operator's own.
		await rename(path.join(root, 'open'), path.join(dir, 'moved'));
		await symlink(outside, path.join(root, 'open'));
		await rm(path.join(root, 'file'));
		await symlink(path.join(outside, 'file'), path.join(root, 'file'));
		await expect(applyModes(root, unpacked.modes)).rejects.toThrow();
		expect((await lstat(outside)).mode & 0o777).toBe(0o700);
		expect((await lstat(path.join(outside, 'file'))).mode & 0o777).toBe(0o600);
	});
});
