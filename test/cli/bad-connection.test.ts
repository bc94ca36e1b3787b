import {mkdtemp, readFile, rm, writeFile} from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import {describe, expect, it} from 'vitest';
import {jsonOf, snapdeck} from '../helpers/cli.js';

/**
 * Bad input that never reaches a VM: an unusable connection, a missing tool, the error codes'
 * documentation. The binary, with no QEMU or libvirt (the unit tier); test/e2e/bad-input.test.ts
 * has the cases on a real lab.
 */
describe('bad input that reaches no VM gets a clear error and the right exit code', () => {
	it('documents every error code in the README', async () => {
		const {ERROR_CODES} = await import('../../source/core/errors.js');
		const readme = await readFile('README.md', 'utf8');
		for (const code of Object.keys(ERROR_CODES)) expect(readme, code).toContain(`| \`${code}\` |`);
	});

	it('a connection snapdeck cannot use, and a lab that does not exist', async () => {
		const transport = await snapdeck(['list', '--connect', 'qemu+tls://example.invalid/system']);
		expect([transport.exitCode, transport.stderr]).toEqual([
			2,
			expect.stringContaining('uses a transport snapdeck does not support'),
		]);
		const unknown = await snapdeck(['list', '--connect', 'vmware:whatever']);
		expect([unknown.exitCode, unknown.stderr]).toEqual([2, expect.stringContaining('not a connection snapdeck knows')]);
		const none = await snapdeck(['list', '--connect', `local:${path.join(os.tmpdir(), 'no-such-lab-here')}`]);
		expect([none.exitCode, none.stderr]).toEqual([2, expect.stringContaining('snapdeck demo --dir')]);
	});

	it('a lab path that is a file is no lab: list exits 2, health 3, its JSON and textfile agree', async () => {
		const folder = await mkdtemp(path.join(os.tmpdir(), 'snapdeck-file-lab-'));
		try {
			const file = path.join(folder, 'vm.json');
			await writeFile(file, '{}');
			const list = await snapdeck(['list', '--connect', `local:${file}`]);
			expect([list.exitCode, list.stderr]).toEqual([
				2,
				expect.stringContaining(`there is no lab at ${file}: it is a file`),
			]);
			expect(list.stderr).not.toContain('ENOTDIR');
			const textfile = path.join(folder, 'snapdeck.prom');
			const health = await snapdeck(['health', '--connect', `local:${file}`, '--json', '--prometheus', textfile]);
			expect(health.exitCode).toBe(3);
			expect(jsonOf(health)).toMatchObject({
				exitCode: 3,
				error: {code: 'not-found', message: expect.stringContaining(file)},
			});
			expect(await readFile(textfile, 'utf8')).toContain(`snapdeck_up{connection="local:${file}"} 0`);
			// An existing, empty folder is a lab with no VMs yet: healthy, not an error.
			const empty = await snapdeck(['health', '--connect', `local:${folder}`]);
			expect([empty.exitCode, empty.stdout]).toEqual([0, expect.stringContaining('0 VMs')]);
		} finally {
			await rm(folder, {recursive: true, force: true});
		}
	});

	it('a missing virsh says which package to install', async () => {
		const run = await snapdeck(['list', '--connect', 'qemu:///system'], {SNAPDECK_VIRSH: '/nonexistent/virsh'});
		expect(run.exitCode).toBe(1);
		expect(run.stderr).toContain('virsh is not installed');
		expect(run.stderr).toContain('apt-get install libvirt-clients');
	});
});
