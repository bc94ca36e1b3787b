import {createHash} from 'node:crypto';
import {readFile} from 'node:fs/promises';
import path from 'node:path';
import {describe, expect, it} from 'vitest';
import {jsonLines, jsonOf, snapdeck} from '../helpers/cli.js';
import {agentOf, guestLab, startGuest} from '../helpers/guest.js';
import {tempDir} from '../helpers/lab.js';

const sha256 = (data: Buffer) => createHash('sha256').update(data).digest('hex');

describe('files inside a backup point (libguestfs), with the real Linux guest', () => {
	it('lists the point\'s filesystem and a folder, and copies a file and a folder out byte for byte, writing nothing to the point', async () => {
		const lab = await guestLab('files1');
		const env = {SNAPDECK_CONNECT: `local:${lab.root}`, SNAPDECK_REPO: lab.repo};
		await startGuest(lab);
		const agent = await agentOf(path.join(lab.folder, 'agent.sock'));
		// The guest writes 300 KiB of random data and a folder, and syncs; its own checksum of the data.
		const wrote = await agent.exec('/bin/sh', ['-c', 'dd if=/dev/urandom of=/data/blob bs=1024 count=300 2>/dev/null && mkdir -p "/data/a folder" && echo "inside" > "/data/a folder/note \\"quoted\\".txt" && sync && sha256sum /data/blob'], 30_000);
		expect(wrote.exitcode, wrote.stderr).toBe(0);
		const inGuest = wrote.stdout.split(' ')[0]!;
		agent.close();
		// A live backup of the running guest, then the guest goes on without us.
		const backup = await snapdeck(['backup', 'files1', '--json'], env);
		expect(backup.exitCode, backup.stderr).toBe(0);
		const point = (jsonLines(backup).at(-1)!['point'] as {id: string; files: Array<{file: string}>});
		const pointFile = path.join(lab.repo, 'files1', point.files[0]!.file);
		const before = sha256(await readFile(pointFile));

		// Without a path: the point's filesystems.
		const filesystems = jsonOf(await snapdeck(['files', 'files1', '--point', point.id, '--json'], env));
		expect(filesystems).toMatchObject({kind: 'filesystems', filesystems: [expect.objectContaining({type: 'ext4'})]});
		const listing = jsonOf(await snapdeck(['files', 'files1', '--point', point.id, '/data', '--json'], env)) as {entries: Array<{name: string; type: string; size: number}>};
		expect(listing.entries).toEqual(expect.arrayContaining([
			expect.objectContaining({name: 'blob', type: 'file', size: 300 * 1024}),
			expect.objectContaining({name: 'a folder', type: 'directory'}),
		]));

		// The whole folder in one go (one boot of libguestfs's appliance, ~23 s under TCG here): the file and the folder in it.
		const out = await tempDir();
		const copied = await snapdeck(['files', 'files1', '--point', point.id, '--extract', '/dev/sda:/data', '--to', out], env);
		expect(copied.exitCode, copied.stderr).toBe(0);
		expect(sha256(await readFile(path.join(out, 'data', 'blob')))).toBe(inGuest);
		expect(await readFile(path.join(out, 'data', 'a folder', 'note "quoted".txt'), 'utf8')).toBe('inside\n');
		// Never over an existing file; and the point was only read.
		const again = await snapdeck(['files', 'files1', '--point', point.id, '--extract', '/data', '--to', out], env);
		expect(again.exitCode).not.toBe(0);
		expect(again.stderr).toContain('already exists; extracting never overwrites a file');
		expect(sha256(await readFile(pointFile))).toBe(before);
	}, 300_000);
});
