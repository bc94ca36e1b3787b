import {mkdir, open, readdir, readFile, rm, writeFile} from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import {describe, expect, it} from 'vitest';
import {jsonOf, snapdeck} from '../helpers/cli.js';
import {damageL2, labWithVm, qemuImg, tempDir} from '../helpers/lab.js';

/** The VM folder's files and vm.json, to prove a refused command changed nothing. */
async function snapshotOfFolder(folder: string) {
	return {files: (await readdir(folder)).filter(name => name !== '.snapdeck').sort(), vm: await readFile(path.join(folder, 'vm.json'), 'utf8')};
}

describe('bad input gets a clear error, exit code 2, and changes nothing', () => {
	const oddNames = ['with space', "qu'ote", 'semi;colon', '$(touch pwned)', '`id`', '../escape', 'a/b', 'snäpshot', '*', ''];

	it.each(oddNames)('snapshot name %j', async name => {
		const lab = await labWithVm();
		const before = await snapshotOfFolder(lab.folder);
		const run = await snapdeck(['snapshot', 'vm1', name, '--yes', '--connect', `local:${lab.root}`]);
		expect(run.exitCode).toBe(2);
		expect(run.stderr).toContain('invalid snapshot name');
		expect(run.stderr).toContain('letters A-Z');
		expect(await snapshotOfFolder(lab.folder)).toEqual(before);
		expect(await readdir(lab.root)).toEqual(['vm1']);
	});

	it('a name with a leading dash, after --, is refused as a name; before it, as an unknown option', async () => {
		const lab = await labWithVm();
		const afterDashes = await snapdeck(['snapshot', '--yes', '--connect', `local:${lab.root}`, '--', 'vm1', '-rf']);
		expect(afterDashes.exitCode).toBe(2);
		expect(afterDashes.stderr).toContain("starts with '-'");
		const asOption = await snapdeck(['snapshot', 'vm1', '-rf', '--connect', `local:${lab.root}`]);
		expect(asOption.exitCode).toBe(2);
		expect(asOption.stderr).toContain("unknown option '-rf'");
		expect(asOption.stderr).toContain("a name that begins with '-' goes after '--'");
	});

	it('an odd VM name, an unknown VM, an unknown snapshot, an unknown command', async () => {
		const lab = await labWithVm();
		const connect = ['--connect', `local:${lab.root}`];
		const odd = await snapdeck(['tree', '../vm1', ...connect]);
		expect([odd.exitCode, odd.stderr]).toEqual([2, expect.stringContaining('invalid VM name')]);
		const unknownVm = await snapdeck(['tree', 'nope', ...connect]);
		expect([unknownVm.exitCode, unknownVm.stderr]).toEqual([2, expect.stringContaining('its VMs are: vm1')]);
		const unknownSnapshot = await snapdeck(['revert', 'vm1', 'nope', '--yes', ...connect]);
		expect([unknownSnapshot.exitCode, unknownSnapshot.stderr]).toEqual([2, expect.stringContaining("has no snapshot 'nope'")]);
		const unknownCommand = await snapdeck(['frobnicate']);
		expect(unknownCommand.exitCode).toBe(2);
		const json = await snapdeck(['tree', 'nope', '--json', ...connect]);
		expect(jsonOf(json)).toMatchObject({type: 'error', exitCode: 2, error: {kind: 'not-found', code: 'no-such-vm'}});
		// Each with its stable code, for scripts (README: "Error codes").
		const codeOf = async (...args: string[]) => (jsonOf(await snapdeck([...args, '--json', ...connect])) as {error: {code: string}}).error.code;
		expect(await codeOf('tree', '../vm1')).toBe('bad-name');
		expect(await codeOf('revert', 'vm1', 'nope', '--yes')).toBe('no-such-snapshot');
		expect(await codeOf('restore', 'vm1', '--point', 'nope', '--to', path.join(lab.root, 'x.qcow2'), '--repo', lab.root)).toBe('no-such-point');
		expect(await codeOf('frobnicate')).toBe('usage');
	});
});

describe('damaged VMs are reported, and nothing is changed on them', () => {
	it('a missing backing file', async () => {
		const lab = await labWithVm();
		await lab.take('s1');
		await rm(path.join(lab.folder, 'vda.qcow2'));
		const list = await snapdeck(['list', '--json', '--connect', `local:${lab.root}`]);
		expect(list.exitCode).toBe(1);
		expect((jsonOf(list)['vms'] as Array<{error: string}>)[0]!.error).toContain('vda.qcow2 (the backing file of vda.s1.qcow2) is missing');
		const before = await snapshotOfFolder(lab.folder);
		const merge = await snapdeck(['merge', 'vm1', 's1', '--yes', '--connect', `local:${lab.root}`]);
		expect(merge.exitCode).toBe(1);
		expect(merge.stderr).toContain('cannot merge on vm1');
		expect(await snapshotOfFolder(lab.folder)).toEqual(before);
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

	it('an overlay on the VM\'s images that nothing uses is a finding: shown, and blocking nothing', async () => {
		const lab = await labWithVm();
		await lab.take('s1');
		await qemuImg.create(path.join(lab.folder, 'left-behind.qcow2'), {backing: 'vda.s1.qcow2'});
		await qemuImg.create(path.join(lab.folder, 'unrelated.qcow2'), {size: 1 << 20});
		const tree = await snapdeck(['tree', 'vm1', '--json', '--connect', `local:${lab.root}`]);
		expect(tree.exitCode).toBe(0);
		expect(jsonOf(tree)['findings']).toEqual([expect.stringContaining('left-behind.qcow2 is an overlay on this VM\'s images that no disk or snapshot uses')]);
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
		const run = await snapdeck(['snapshot', 'vm1', 's1', '--yes', '--connect', `local:${lab.root}`], {SNAPDECK_QEMU_IMG: '/nonexistent/qemu-img'});
		expect(run.exitCode).toBe(1);
		expect(run.stderr).toContain('qemu-img is not installed');
		expect(run.stderr).toContain('apt-get install qemu-utils');
		expect((await lab.vmFile()).snapshots).toEqual([]);
	});

	it('a missing qemu-storage-daemon (a backup of a stopped VM) says which package to install, and changes nothing', async () => {
		const lab = await labWithVm();
		const repo = path.join(await tempDir(), 'repo');
		const run = await snapdeck(['backup', 'vm1', '--connect', `local:${lab.root}`, '--repo', repo], {SNAPDECK_QEMU_STORAGE_DAEMON: '/nonexistent/qemu-storage-daemon'});
		expect(run.exitCode).toBe(1);
		expect(run.stderr).toContain('qemu-storage-daemon is not installed');
		expect(run.stderr).toContain('apt-get install qemu-system-common');
		expect((jsonOf(await snapdeck(['backups', 'vm1', '--json', '--connect', `local:${lab.root}`, '--repo', repo]))['points'])).toEqual([]);
	});

	it('a VM locked by another live process names the holder', async () => {
		const lab = await labWithVm();
		await mkdir(path.join(lab.folder, '.snapdeck'), {recursive: true});
		const holder = {pid: process.pid, host: os.hostname(), user: 'ops', command: 'snapdeck merge vm1 old', since: '2026-11-25T10:00:00.000Z'};
		await writeFile(path.join(lab.folder, '.snapdeck', 'lock'), JSON.stringify(holder));
		const run = await snapdeck(['snapshot', 'vm1', 's1', '--yes', '--connect', `local:${lab.root}`]);
		expect(run.exitCode).toBe(1);
		expect(run.stderr).toContain(`locked by pid ${process.pid} (snapdeck merge vm1 old), user ops`);
		expect((await lab.vmFile()).snapshots).toEqual([]);
	});
});

describe('the configuration file', () => {
	it('supplies the default connection, and a bad value is named by key and file', async () => {
		const lab = await labWithVm();
		const configDir = await tempDir();
		await writeFile(path.join(configDir, 'config.json'), JSON.stringify({defaultConnection: `local:${lab.root}`, keymap: {take: ['s']}}));
		const list = await snapdeck(['list', '--json'], {SNAPDECK_CONFIG_DIR: configDir});
		expect(list.exitCode).toBe(0);
		expect(jsonOf(list)['connection']).toBe(`local:${lab.root}`);

		await writeFile(path.join(configDir, 'config.json'), JSON.stringify({defaultConnection: 5}));
		const bad = await snapdeck(['list'], {SNAPDECK_CONFIG_DIR: configDir});
		expect(bad.exitCode).toBe(2);
		expect(bad.stderr).toContain(`${path.join(configDir, 'config.json')}: defaultConnection:`);
		await writeFile(path.join(configDir, 'config.json'), JSON.stringify({colour: 'pink'}));
		const unknown = await snapdeck(['list'], {SNAPDECK_CONFIG_DIR: configDir});
		expect([unknown.exitCode, unknown.stderr]).toEqual([2, expect.stringContaining('colour')]);
	});
});
