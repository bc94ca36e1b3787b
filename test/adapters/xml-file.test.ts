import {chown, lstat, readdir, readFile, stat, symlink, writeFile} from 'node:fs/promises';
import path from 'node:path';
import {execa} from 'execa';
import {describe, expect, it} from 'vitest';
import {withXmlFile} from '../../source/adapters/libvirt/xml-file.js';
import {restoreEnvAfterEach} from '../helpers/env.js';
import {tempDir} from '../helpers/lab.js';

restoreEnvAfterEach('TMPDIR');

describe('XML handed to libvirt through a temp file (withXmlFile)', () => {
	it("is private while libvirt reads it and gone after; the files of a killed snapdeck are removed by the next, nobody else's, and no link is followed", async () => {
		const dir = await tempDir();
		process.env['TMPDIR'] = dir;
		// A process that is gone, and one that runs.
		const dead = (await execa('sh', ['-c', 'echo $$'])).stdout.trim();
		const live = execa('sleep', ['30']);
		try {
			const victim = path.join(await tempDir(), 'victim');
			await writeFile(victim, 'keep me');
			const files = {
				killed: `snapdeck-xml-${dead}-0123456789ab.xml`,
				running: `snapdeck-xml-${live.pid}-0123456789ab.xml`,
				link: `snapdeck-xml-${dead}-abcdef012345.xml`,
				otherUser: `snapdeck-xml-${dead}-111111111111.xml`,
				notOurs: `snapdeck-${dead}.xml`,
			};
			for (const name of [files.killed, files.running, files.otherUser, files.notOurs])
				await writeFile(path.join(dir, name), '<domain/>', {mode: 0o600});
			await symlink(victim, path.join(dir, files.link));
			if (process.getuid?.() === 0) await chown(path.join(dir, files.otherUser), 65534, 65534);
			let seen = '';
			await withXmlFile("<domain type='kvm'/>", async file => {
				seen = file;
				expect(path.dirname(file)).toBe(dir);
				expect(path.basename(file)).toMatch(new RegExp(`^snapdeck-xml-${process.pid}-[0-9a-f]{12}\\.xml$`));
				expect((await stat(file)).mode & 0o777).toBe(0o600);
				expect(await readFile(file, 'utf8')).toBe("<domain type='kvm'/>");
			});
			await expect(lstat(seen)).rejects.toThrow();
			const left = await readdir(dir);
			expect(left).not.toContain(files.killed);
			expect(left).toContain(files.running);
			expect(left).toContain(files.link);
			expect(await readFile(victim, 'utf8')).toBe('keep me');
			if (process.getuid?.() === 0) expect(left).toContain(files.otherUser);
			expect(left).toContain(files.notOurs);
		} finally {
			live.kill();
			await live.catch(() => undefined);
		}
	});
});
