import {lstat, mkdir, readdir, readFile, rm, stat, symlink, writeFile} from 'node:fs/promises';
import path from 'node:path';
import {execa} from 'execa';
import {describe, expect, it} from 'vitest';
import {jsonOf, snapdeck} from '../helpers/cli.js';
import {agentOf, guestLab, stopAfterTest} from '../helpers/guest.js';
import {tempDir} from '../helpers/lab.js';

/** The throwaway VMs of VM `vm`'s boot tests still running (other tests, in other workers, boot their own). */
async function throwawayVms(vm: string) {
	const {stdout} = await execa('pgrep', ['-af', `${vm}-boottest`], {reject: false});
	return stdout.split('\n').filter(line => line.includes('qemu-system'));
}

describe('verify --boot: a backup point booted in a throwaway VM, with the real Linux guest', () => {
	it("the evidence is never written through a link someone put in the repository (the guest chooses the console's words)", async () => {
		const lab = await guestLab('boot7');
		const connect = ['--connect', `local:${lab.root}`, '--repo', lab.repo];
		const backup = await snapdeck(['backup', 'boot7', '--json', ...connect]);
		expect(backup.exitCode, backup.stderr).toBe(0);
		const point = (JSON.parse(backup.stdout.trim().split('\n').at(-1)!) as {point: {id: string}}).point.id;
		const outside = await tempDir();
		await writeFile(path.join(outside, 'console.log'), 'keep me');
		const evidence = path.join(lab.repo, 'boot7', '.snapdeck', 'boot', point);
		await mkdir(path.dirname(evidence), {recursive: true});
		// The point's evidence folder a link to a folder of the host: refused, nothing written there.
		await symlink(outside, evidence);
		const linked = await snapdeck(['verify', 'boot7', '--boot', ...connect]);
		expect(linked.exitCode).toBe(1);
		expect(linked.stderr).toContain('symbolic link');
		expect(await readdir(outside)).toEqual(['console.log']);
		// A link where the console log goes: replaced, its target untouched.
		await rm(evidence);
		await mkdir(evidence);
		await symlink(path.join(outside, 'console.log'), path.join(evidence, 'console.log'));
		const filed = await snapdeck(['verify', 'boot7', '--boot', ...connect]);
		expect(filed.exitCode, filed.stderr).toBe(0);
		expect(await readFile(path.join(outside, 'console.log'), 'utf8')).toBe('keep me');
		expect((await lstat(path.join(evidence, 'console.log'))).isFile()).toBe(true);
	});

	it('a point boots: the guest agent answers; the console log and a screenshot are kept with the point; nothing is left running', async () => {
		const lab = await guestLab('boot1');
		const connect = ['--connect', `local:${lab.root}`, '--repo', lab.repo];
		expect((await snapdeck(['backup', 'boot1', ...connect])).exitCode).toBe(0);
		const result = await snapdeck(['verify', 'boot1', '--boot', '--json', ...connect]);
		expect(result.exitCode, result.stderr).toBe(0);
		const boot = jsonOf(result)['boot'] as {
			ok: boolean;
			message: string;
			seconds: number;
			console: string;
			screenshot: string;
		};
		expect(boot.ok).toBe(true);
		expect(boot.message).toMatch(/the guest agent answered after \d+\.\d s/);
		const folder = path.join(lab.repo, 'boot1');
		expect(await readFile(path.join(folder, boot.console), 'utf8')).toContain('snapdeck-guest: up');
		const png = await readFile(path.join(folder, boot.screenshot));
		expect(png.subarray(1, 4).toString()).toBe('PNG');
		// The evidence is no more readable than the point files; the overlays are gone; so is the VM.
		expect((await stat(path.join(folder, boot.console))).mode & 0o077).toBe(0);
		expect(
			(await readdir(path.join(folder, '.snapdeck'))).filter(
				name => name.startsWith('boot-work') || name.startsWith('.snapdeck-work-'),
			),
		).toEqual([]);
		expect(await throwawayVms('boot1')).toEqual([]);
		// The manifest keeps the verdict; the point itself was only read (it still verifies).
		const manifest = JSON.parse(await readFile(path.join(folder, 'manifest.json'), 'utf8')) as {
			points: Array<{boot: {ok: boolean}}>;
		};
		expect(manifest.points[0]!.boot.ok).toBe(true);
		// A boot that passed is a restore proved: a signed receipt of it, that verifies.
		const receipts = jsonOf(await snapdeck(['receipts', 'boot1', '--json', ...connect]))['receipts'] as Array<{
			file: string;
			receipt: {proved: string; point: string; how: string};
		}>;
		expect(receipts.map(({receipt}) => [receipt.proved, receipt.point])).toEqual([
			['boot-test', (manifest.points[0] as unknown as {id: string}).id],
		]);
		const checked = await snapdeck(['receipts', 'verify', receipts[0]!.file]);
		expect(checked.exitCode, checked.stderr).toBe(0);
		expect(checked.stdout).toMatch(/^valid: boot-test of point \S+ of boot1/);
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
		expect(result.stdout).toMatch(
			/NO BOOT \S+: the VM stopped .* s after it was started \(the guest powered off or reset\); its console ends: .*snapdeck-guest: cannot mount the root filesystem on \/dev\/vda/s,
		);
		expect(await throwawayVms('boot2')).toEqual([]);
	});

	it("a policy's boot tests: health asks for one, snapdeck run boots the newest point when due, and a point that does not boot is critical", async () => {
		const lab = await guestLab('boot3');
		const configDir = await tempDir();
		await writeFile(
			path.join(configDir, 'config.json'),
			JSON.stringify({
				policies: [{name: 'booted', boot: {schedule: '0 3 * * *', every: '7d', pattern: 'snapdeck-guest: up'}}],
			}),
		);
		const env = {
			SNAPDECK_CONNECT: `local:${lab.root}`,
			SNAPDECK_REPO: lab.repo,
			SNAPDECK_CONFIG_DIR: configDir,
			SNAPDECK_JOURNAL: path.join(configDir, 'journal.jsonl'),
		};
		const findings = async () =>
			(
				jsonOf(await snapdeck(['health', 'boot3', '--json'], env))['vms'] as Array<{
					findings: Array<{rule: string; severity: string; message: string}>;
				}>
			)[0]!.findings.filter(finding => finding.rule.startsWith('boot-'));
		expect((await snapdeck(['backup', 'boot3'], env)).exitCode).toBe(0);
		expect(await findings()).toEqual([expect.objectContaining({rule: 'boot-missing', severity: 'warning'})]);
		// 03:00 has passed: the boot test is due, and proves itself by the policy's console pattern.
		const run = await snapdeck(['run', '--now', new Date(Date.now() + 86_400_000).toISOString()], env);
		expect(run.exitCode, run.stderr).toBe(0);
		expect(run.stdout).toMatch(/boot3: booted \S+: the console showed \/snapdeck-guest: up\/ after \d+\.\d s/);
		expect(await findings()).toEqual([]);
		const listed = await snapdeck(['backups', 'boot3'], env);
		expect(listed.stdout).toMatch(/BOOTED/);

		// Now the guest's root is damaged and backed up again: that newest point does not boot, and health says so.
		await execa('qemu-io', ['-f', 'qcow2', '-c', 'write -P 0 1024 1024', lab.disk]);
		expect((await snapdeck(['backup', 'boot3'], env)).exitCode).toBe(0);
		expect((await snapdeck(['verify', 'boot3', '--boot', '--timeout', '60'], env)).exitCode).toBe(1);
		expect(await findings()).toEqual([
			expect.objectContaining({
				rule: 'boot-failed',
				severity: 'critical',
				message: expect.stringContaining('cannot mount the root filesystem'),
			}),
		]);
		expect(await throwawayVms('boot3')).toEqual([]);
		// Pruning the first point removes its boot evidence too; the newest keeps its own.
		const evidence = () => readdir(path.join(lab.repo, 'boot3', '.snapdeck', 'boot'));
		const [first, second] = (
			jsonOf(await snapdeck(['backups', 'boot3', '--json'], env))['points'] as Array<{id: string}>
		).map(point => point.id);
		expect((await evidence()).sort()).toEqual([first, second].sort());
		expect((await snapdeck(['prune', 'boot3', '--keep-last', '1', '--yes'], env)).exitCode).toBe(0);
		expect(await evidence()).toEqual([second]);
	});

	it('snapdeck killed (-9) during a boot test leaves no VM running; the next boot test of the point removes the overlays and passes', async () => {
		const lab = await guestLab('boot4');
		const connect = ['--connect', `local:${lab.root}`, '--repo', lab.repo];
		expect((await snapdeck(['backup', 'boot4', ...connect])).exitCode).toBe(0);
		const test = execa(path.resolve('bin/snapdeck'), ['verify', 'boot4', '--boot', ...connect], {
			reject: false,
			env: {...process.env, NO_COLOR: '1'},
		});
		const deadline = Date.now() + 60_000;
		while ((await throwawayVms('boot4')).length === 0) {
			if (Date.now() > deadline) throw new Error('the throwaway VM never started');
			await new Promise(resolve => setTimeout(resolve, 100));
		}
		test.kill('SIGKILL');
		await test;
		for (let waited = 0; (await throwawayVms('boot4')).length > 0 && waited < 5000; waited += 100)
			await new Promise(resolve => setTimeout(resolve, 100));
		expect(await throwawayVms('boot4')).toEqual([]);
		const again = await snapdeck(['verify', 'boot4', '--boot', ...connect]);
		expect(again.exitCode, again.stderr).toBe(0);
		expect(
			(await readdir(path.join(lab.repo, 'boot4', '.snapdeck'))).filter(
				name => name.startsWith('boot-work') || name.startsWith('.snapdeck-work-'),
			),
		).toEqual([]);
	});

	it("a point boots from its own kernel and initramfs, never the live folder's; a run that could not start changes no verdict; a point of a VM that is gone restores and starts", async () => {
		const lab = await guestLab('boot5');
		const connect = ['--connect', `local:${lab.root}`, '--repo', lab.repo];
		const backup = await snapdeck(['backup', 'boot5', '--json', ...connect]);
		expect(backup.exitCode, backup.stderr).toBe(0);
		const id = (JSON.parse(backup.stdout.trim().split('\n').at(-1)!) as {point: {id: string}}).point.id;
		const manifest = async () =>
			JSON.parse(await readFile(path.join(lab.repo, 'boot5', 'manifest.json'), 'utf8')) as {
				points: Array<{
					bootFiles: Array<{role: string; name: string; file: string}>;
					boot: {ok: boolean; at: string} | null;
				}>;
			};
		expect((await manifest()).points[0]!.bootFiles.map(file => [file.role, file.name, file.file])).toEqual([
			['kernel', 'vmlinuz', `boot/${id}/kernel`],
			['initrd', 'initrd', `boot/${id}/initrd`],
		]);
		// The live folder's kernel gone and its initramfs garbage: the point boots from its own.
		await rm(path.join(lab.folder, 'vmlinuz'));
		await writeFile(path.join(lab.folder, 'initrd'), 'not an initramfs');
		const booted = await snapdeck(['verify', 'boot5', '--boot', '--json', ...connect]);
		expect(booted.exitCode, booted.stderr).toBe(0);
		const verdict = (await manifest()).points[0]!.boot!;
		expect(verdict.ok).toBe(true);
		// A boot test that could not start QEMU learned nothing about the point: the verdict stays as it was.
		const noQemu = await snapdeck(['verify', 'boot5', '--boot', ...connect], {
			SNAPDECK_QEMU_SYSTEM_X86_64: '/nonexistent/qemu-system-x86_64',
		});
		expect(noQemu.exitCode).toBe(1);
		expect(noQemu.stderr).toContain('qemu-system-x86_64 is not installed');
		expect((await manifest()).points[0]!.boot).toEqual(verdict);
		// The VM is gone, folder and all: its point still becomes a VM that starts (kernel and initramfs from the point).
		await rm(lab.folder, {recursive: true, force: true});
		const restored = await snapdeck(['restore', 'boot5', '--point', id, '--as', 'boot6', ...connect]);
		expect(restored.exitCode, restored.stderr).toBe(0);
		expect((await snapdeck(['start', 'boot6', '--connect', `local:${lab.root}`])).exitCode).toBe(0);
		stopAfterTest(lab.root, 'boot6');
		const agent = await agentOf(path.join(lab.root, 'boot6', 'agent.sock'));
		expect(await agent.execute('guest-ping')).toEqual({});
		agent.close();
		// A changed byte in the point's kernel fails verify, naming it.
		const kernel = path.join(lab.repo, 'boot5', 'boot', id, 'kernel');
		const bytes = await readFile(kernel);
		bytes[4096] = bytes[4096]! ^ 0xff;
		await writeFile(kernel, bytes);
		const damaged = await snapdeck(['verify', 'boot5', ...connect]);
		expect(damaged.exitCode).toBe(1);
		expect(damaged.stdout).toContain(`boot/${id}/kernel (the kernel boot5 boots) does not match its checksum`);
	}, 240_000);
});
