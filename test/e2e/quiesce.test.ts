import {readFile} from 'node:fs/promises';
import path from 'node:path';
import {execa} from 'execa';
import {describe, expect, it} from 'vitest';
import {snapdeck} from '../helpers/cli.js';
import {agentOf, guestLab, startGuest} from '../helpers/guest.js';
import {tempDir} from '../helpers/lab.js';

describe('quiesced snapshots of the real Linux guest', () => {
	it('--quiesce freezes the guest through its agent for the switch and thaws it; the frozen image is a clean ext4 with what the guest wrote just before', async () => {
		const lab = await guestLab('q1');
		const connect = ['--connect', `local:${lab.root}`];
		await startGuest(lab);
		let agent = await agentOf(path.join(lab.folder, 'agent.sock'));
		// Written, not synced: in the guest's page cache and ext4's journal, not yet on the disk for sure.
		const wrote = await agent.exec(
			'/bin/sh',
			['-c', 'echo "written before the snapshot" > /data/quiesce-proof'],
			10_000,
		);
		expect(wrote.exitcode).toBe(0);
		agent.close();

		const taken = await snapdeck(['snapshot', 'q1', 'frozen', '--quiesce', '--yes', ...connect]);
		expect(taken.exitCode, taken.stderr).toBe(0);
		const vm = JSON.parse(await readFile(path.join(lab.folder, 'vm.json'), 'utf8')) as {
			snapshots: Array<{name: string; quiesced: boolean; disks: Array<{file: string}>}>;
		};
		expect(vm.snapshots).toEqual([expect.objectContaining({name: 'frozen', quiesced: true})]);
		// Thawed again: the guest writes on.
		agent = await agentOf(path.join(lab.folder, 'agent.sock'));
		expect(await agent.execute('guest-fsfreeze-status')).toBe('thawed');
		expect((await agent.exec('/bin/sh', ['-c', 'echo after > /data/after'], 10_000)).exitcode).toBe(0);
		agent.close();

		// The image frozen at the snapshot: e2fsck finds it clean, and the file is in it.
		const raw = path.join(await tempDir(), 'frozen.raw');
		await execa('qemu-img', [
			'convert',
			'-U',
			'-O',
			'raw',
			path.join(lab.folder, vm.snapshots[0]!.disks[0]!.file),
			raw,
		]);
		const check = await execa('e2fsck', ['-fn', raw], {reject: false});
		expect(check.exitCode, check.stdout).toBe(0);
		expect((await execa('debugfs', ['-R', 'cat /data/quiesce-proof', raw])).stdout).toBe('written before the snapshot');
	});

	it('backup --quiesce: the point restores to an ext4 that e2fsck -fn finds clean, holding what the guest wrote just before', async () => {
		const lab = await guestLab('q3');
		const env = {SNAPDECK_CONNECT: `local:${lab.root}`, SNAPDECK_REPO: lab.repo};
		await startGuest(lab);
		const agent = await agentOf(path.join(lab.folder, 'agent.sock'));
		expect(
			(await agent.exec('/bin/sh', ['-c', 'echo "written before the backup" > /data/backup-proof'], 10_000)).exitcode,
		).toBe(0);
		agent.close();
		const backup = await snapdeck(['backup', 'q3', '--quiesce'], env);
		expect(backup.exitCode, backup.stderr).toBe(0);
		const id = (
			JSON.parse(await readFile(path.join(lab.repo, 'q3', 'manifest.json'), 'utf8')) as {points: Array<{id: string}>}
		).points[0]!.id;
		const restored = path.join(await tempDir(), 'restored.qcow2');
		expect((await snapdeck(['restore', 'q3', '--point', id, '--to', restored], env)).exitCode).toBe(0);
		const raw = path.join(await tempDir(), 'restored.raw');
		await execa('qemu-img', ['convert', '-O', 'raw', restored, raw]);
		const check = await execa('e2fsck', ['-fn', raw], {reject: false});
		expect(check.exitCode, check.stdout).toBe(0);
		expect((await execa('debugfs', ['-R', 'cat /data/backup-proof', raw])).stdout).toBe('written before the backup');
		// Thawed after: the guest writes on.
		const after = await agentOf(path.join(lab.folder, 'agent.sock'));
		expect(await after.execute('guest-fsfreeze-status')).toBe('thawed');
		after.close();
	});

	it('--quiesce with no guest agent answering is refused before anything changes, saying why', async () => {
		const lab = await guestLab('q2');
		const connect = ['--connect', `local:${lab.root}`];
		// Started with a kernel command line that stops at the initramfs's shell prompt: no agent ever runs.
		const vmFile = path.join(lab.folder, 'vm.json');
		const vm = JSON.parse(await readFile(vmFile, 'utf8'));
		vm.qemu.kernel.append = 'console=ttyS0 panic=-1 rdinit=/bin/busybox sh';
		const {writeFile} = await import('node:fs/promises');
		await writeFile(vmFile, JSON.stringify(vm));
		await startGuest(lab);
		const before = await readFile(vmFile, 'utf8');
		const refused = await snapdeck(['snapshot', 'q2', 'nope', '--quiesce', '--yes', ...connect]);
		expect(refused.exitCode).not.toBe(0);
		expect(refused.stderr).toContain('cannot quiesce q2: no guest agent answers on');
		expect(await readFile(vmFile, 'utf8')).toBe(before);
	});
});
