import {readdir, readFile, stat} from 'node:fs/promises';
import path from 'node:path';
import {execa} from 'execa';
import {describe, expect, it} from 'vitest';
import {jsonOf, snapdeck} from '../helpers/cli.js';
import {guestLab} from '../helpers/guest.js';

/** No throwaway VM of a boot test may outlive it. */
async function throwawayVms() {
	const {stdout} = await execa('pgrep', ['-af', 'boottest'], {reject: false});
	return stdout.split('\n').filter(line => line.includes('qemu-system'));
}

describe('verify --boot: a backup point booted in a throwaway VM, with the real Linux guest', () => {
	it('a point boots: the guest agent answers; the console log and a screenshot are kept with the point; nothing is left running', async () => {
		const lab = await guestLab('boot1');
		const connect = ['--connect', `local:${lab.root}`, '--repo', lab.repo];
		expect((await snapdeck(['backup', 'boot1', ...connect])).exitCode).toBe(0);
		const result = await snapdeck(['verify', 'boot1', '--boot', '--json', ...connect]);
		expect(result.exitCode, result.stderr).toBe(0);
		const boot = jsonOf(result)['boot'] as {ok: boolean; message: string; seconds: number; console: string; screenshot: string};
		expect(boot.ok).toBe(true);
		expect(boot.message).toMatch(/the guest agent answered after \d+\.\d s/);
		const folder = path.join(lab.repo, 'boot1');
		expect(await readFile(path.join(folder, boot.console), 'utf8')).toContain('snapdeck-guest: up');
		const png = await readFile(path.join(folder, boot.screenshot));
		expect(png.subarray(1, 4).toString()).toBe('PNG');
		// The evidence is no more readable than the point files; the overlays are gone; so is the VM.
		expect((await stat(path.join(folder, boot.console))).mode & 0o077).toBe(0);
		expect((await readdir(path.join(folder, '.snapdeck'))).filter(name => name.startsWith('boot-work'))).toEqual([]);
		expect(await throwawayVms()).toEqual([]);
		// The manifest keeps the verdict; the point itself was only read (it still verifies).
		const manifest = JSON.parse(await readFile(path.join(folder, 'manifest.json'), 'utf8')) as {points: Array<{boot: {ok: boolean}}>};
		expect(manifest.points[0]!.boot.ok).toBe(true);
		expect((await snapdeck(['verify', 'boot1', ...connect])).exitCode).toBe(0);
		// The VM itself was never started.
		expect(await lab.console()).toBe('');
	});

	it('a point whose root filesystem was damaged does not boot, and the console log says why', async () => {
		const lab = await guestLab('boot2');
		const connect = ['--connect', `local:${lab.root}`, '--repo', lab.repo];
		// The ext4 superblock (1 KiB at 1 KiB) zeroed, as a failing disk or a bad write would leave it.
		await execa('qemu-io', ['-f', 'qcow2', '-c', 'write -P 0 1024 1024', lab.disk]);
		expect((await snapdeck(['backup', 'boot2', ...connect])).exitCode).toBe(0);
		const result = await snapdeck(['verify', 'boot2', '--boot', '--timeout', '60', ...connect]);
		expect(result.exitCode).toBe(1);
		// The files verify (the damage was in the guest's data, not the backup); the boot does not.
		expect(result.stdout).toMatch(/^ok {6}\S+$/m);
		expect(result.stdout).toMatch(/NO BOOT \S+: the VM stopped .* s after it was started \(the guest powered off or reset\); its console ends: .*snapdeck-guest: cannot mount the root filesystem on \/dev\/vda/s);
		expect(await throwawayVms()).toEqual([]);
	});
});
