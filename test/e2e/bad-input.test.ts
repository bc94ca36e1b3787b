import {cp, mkdir, open, readdir, readFile, rm, truncate, writeFile} from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import {describe, expect, it} from 'vitest';
import {jsonOf, snapdeck} from '../helpers/cli.js';
import {damageL2, labWithVm, qemuImg, tempDir} from '../helpers/lab.js';

/** The VM folder's files and vm.json, to prove a refused command changed nothing. */
async function snapshotOfFolder(folder: string) {
	return {
		files: (await readdir(folder)).filter(name => name !== '.snapdeck').sort(),
		vm: await readFile(path.join(folder, 'vm.json'), 'utf8'),
	};
}

/*
 * What only the real adapters can get wrong: damaged images, missing tools, a lock another process
 * holds. Refused names and arguments, and the configuration's errors, are
 * test/cli/refused-input.test.ts's (in-process, on the in-memory hypervisor); that a refused name
 * makes nothing on a real lab either is the contract's (test/contract/).
 */
describe('damaged VMs are reported, and nothing is changed on them', () => {
	it('a missing backing file', async () => {
		const lab = await labWithVm();
		await lab.take('s1');
		await rm(path.join(lab.folder, 'vda.qcow2'));
		const list = await snapdeck(['list', '--json', '--connect', `local:${lab.root}`]);
		expect(list.exitCode).toBe(1);
		expect((jsonOf(list)['vms'] as Array<{error: string}>)[0]!.error).toContain(
			'vda.qcow2 (the backing file of vda.s1.qcow2) is missing',
		);
		const before = await snapshotOfFolder(lab.folder);
		const merge = await snapdeck(['merge', 'vm1', 's1', '--yes', '--connect', `local:${lab.root}`]);
		expect(merge.exitCode).toBe(1);
		expect(merge.stderr).toContain('cannot merge on vm1');
		expect(await snapshotOfFolder(lab.folder)).toEqual(before);
	});

	it('list shows every VM, marks one whose image is cut short or whose qcow2 header is damaged, and exits 1', async () => {
		const lab = await labWithVm('ok');
		for (const name of ['cut', 'garbled']) {
			await cp(lab.folder, path.join(lab.root, name), {recursive: true});
			const vmJson = path.join(lab.root, name, 'vm.json');
			await writeFile(vmJson, JSON.stringify({...JSON.parse(await readFile(vmJson, 'utf8')), name}));
		}
		const connect = ['--connect', `local:${lab.root}`];
		expect((await snapdeck(['list', ...connect])).exitCode).toBe(0);
		await truncate(path.join(lab.root, 'cut', 'vda.qcow2'), 100_000); // past its header, before its tables
		const handle = await open(path.join(lab.root, 'garbled', 'vda.qcow2'), 'r+');
		await handle.write(Buffer.from([0, 0, 0, 40]), 0, 4, 20); // cluster bits 40
		await handle.close();
		const list = await snapdeck(['list', '--json', ...connect]);
		expect(list.exitCode).toBe(1);
		const vms = jsonOf(list)['vms'] as Array<{name: string; error: string | null}>;
		expect(vms.map(vm => [vm.name, vm.error])).toEqual([
			['cut', expect.stringContaining('vda.qcow2 is truncated')],
			['garbled', expect.stringContaining('its qcow2 header is damaged (cluster bits 40)')],
			['ok', null],
		]);
		const text = await snapdeck(['list', ...connect]);
		expect(text.exitCode).toBe(1);
		expect(text.stdout).toMatch(/^ok +stopped /m);
		expect(text.stdout).toMatch(/^! cut: .*vda\.qcow2 is truncated/m);
		expect(text.stdout).toMatch(/^! garbled: .*header is damaged/m);
	});

	it('an image that is not a qcow2 any more', async () => {
		const lab = await labWithVm();
		const handle = await open(path.join(lab.folder, 'vda.qcow2'), 'r+');
		await handle.write(Buffer.from('garbage!'), 0, 8, 0);
		await handle.close();
		const run = await snapdeck(['snapshot', 'vm1', 's1', '--yes', '--connect', `local:${lab.root}`]);
		expect(run.exitCode).toBe(1);
		expect(run.stderr).toContain('vda.qcow2 cannot be read as a qcow2 image');
		expect((await lab.vmFile()).snapshots).toEqual([]);
	});

	it('a qcow2 whose header reads but whose tables are damaged (found by qemu-img check)', async () => {
		const lab = await labWithVm();
		await lab.write(0x11, 0);
		await lab.take('s1');
		// The image opens, but qemu-img check finds its tables damaged.
		await damageL2(path.join(lab.folder, 'vda.qcow2'));
		const before = await snapshotOfFolder(lab.folder);
		const run = await snapdeck(['merge', 'vm1', 's1', '--yes', '--connect', `local:${lab.root}`]);
		expect(run.exitCode).toBe(1);
		expect(run.stderr).toMatch(/vda\.qcow2 is damaged \(\d+ corruptions/);
		expect(await snapshotOfFolder(lab.folder)).toEqual(before);
	});

	it("an overlay on the VM's images that nothing uses is a finding: shown, and blocking nothing", async () => {
		const lab = await labWithVm();
		await lab.take('s1');
		await qemuImg.create(path.join(lab.folder, 'left-behind.qcow2'), {backing: 'vda.s1.qcow2'});
		await qemuImg.create(path.join(lab.folder, 'unrelated.qcow2'), {size: 1 << 20});
		const tree = await snapdeck(['tree', 'vm1', '--json', '--connect', `local:${lab.root}`]);
		expect(tree.exitCode).toBe(0);
		expect(jsonOf(tree)['findings']).toEqual([
			expect.stringContaining("left-behind.qcow2 is an overlay on this VM's images that no disk or snapshot uses"),
		]);
		const take = await snapdeck(['snapshot', 'vm1', 's2', '--yes', '--connect', `local:${lab.root}`]);
		expect(take.exitCode).toBe(0);
	});

	it('a VM folder without vm.json, and a vm.json that is not valid', async () => {
		const lab = await labWithVm();
		await mkdir(path.join(lab.root, 'stray'));
		const list = await snapdeck(['list', '--json', '--connect', `local:${lab.root}`]);
		expect(list.exitCode).toBe(1);
		const stray = (jsonOf(list)['vms'] as Array<{name: string; error: string}>).find(vm => vm.name === 'stray')!;
		expect(stray.error).toContain('has no vm.json');
		await writeFile(path.join(lab.folder, 'vm.json'), '{"version": 1, "name": "vm1"}');
		const tree = await snapdeck(['tree', 'vm1', '--connect', `local:${lab.root}`]);
		expect(tree.exitCode).toBe(2);
		expect(tree.stderr).toContain('does not describe a VM');
	});

	it('a missing qemu-img says which package to install', async () => {
		const lab = await labWithVm();
		const run = await snapdeck(['snapshot', 'vm1', 's1', '--yes', '--connect', `local:${lab.root}`], {
			SNAPDECK_QEMU_IMG: '/nonexistent/qemu-img',
		});
		expect(run.exitCode).toBe(1);
		expect(run.stderr).toContain('qemu-img is not installed');
		expect(run.stderr).toContain('apt-get install qemu-utils');
		expect((await lab.vmFile()).snapshots).toEqual([]);
	});

	it('a missing qemu-storage-daemon (a backup of a stopped VM) says which package to install, and changes nothing', async () => {
		const lab = await labWithVm();
		const repo = path.join(await tempDir(), 'repo');
		const run = await snapdeck(['backup', 'vm1', '--connect', `local:${lab.root}`, '--repo', repo], {
			SNAPDECK_QEMU_STORAGE_DAEMON: '/nonexistent/qemu-storage-daemon',
		});
		expect(run.exitCode).toBe(1);
		expect(run.stderr).toContain('qemu-storage-daemon is not installed');
		expect(run.stderr).toContain('apt-get install qemu-system-common');
		expect(
			jsonOf(await snapdeck(['backups', 'vm1', '--json', '--connect', `local:${lab.root}`, '--repo', repo]))['points'],
		).toEqual([]);
	});

	it('a VM locked by another live process names the holder', async () => {
		const lab = await labWithVm();
		await mkdir(path.join(lab.folder, '.snapdeck'), {recursive: true});
		const holder = {
			pid: process.pid,
			host: os.hostname(),
			user: 'ops',
			command: 'snapdeck merge vm1 old',
			since: '2026-11-25T10:00:00.000Z',
		};
		await writeFile(path.join(lab.folder, '.snapdeck', 'lock'), JSON.stringify(holder));
		const run = await snapdeck(['snapshot', 'vm1', 's1', '--yes', '--connect', `local:${lab.root}`]);
		expect(run.exitCode).toBe(1);
		expect(run.stderr).toContain(`locked by pid ${process.pid} (snapdeck merge vm1 old), user ops`);
		expect((await lab.vmFile()).snapshots).toEqual([]);
	});
});
