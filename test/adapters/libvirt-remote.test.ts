import {access, mkdir, readdir, readFile, stat, writeFile} from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import {execa} from 'execa';
import {afterAll, beforeAll, describe, expect, it} from 'vitest';
import {jsonOf, snapdeck} from '../helpers/cli.js';
import {MiB, qemuImg, qemuIo, tempDir} from '../helpers/lab.js';
import {countingVirsh, libvirtDomain, virsh} from '../helpers/libvirt.js';
import {startSshd} from '../helpers/sshd.js';

const exists = (file: string) =>
	access(file).then(
		() => true,
		() => false,
	);
let sshd: Awaited<ReturnType<typeof startSshd>>;
let uri: string;
beforeAll(async () => {
	sshd = await startSshd();
	uri = `qemu+ssh://root@127.0.0.1:${sshd.port}/system?keyfile=${sshd.keyfile}&no_verify=1`;
});
afterAll(() => sshd?.stop());

describe('a remote libvirt host over ssh (a real sshd on 127.0.0.1)', () => {
	it('lists, takes and reverts, with the images in a directory whose name would run a command', async () => {
		const marker = `snapdeck-injected-${process.pid}`;
		const hostile = path.join(await tempDir(), `it's a "dir"; $(touch ${marker}) \`touch ${marker}\``);
		await mkdir(hostile);
		const domain = await libvirtDomain({imageDir: hostile});
		await domain.guestWrite(0xa1, 1);

		// The exit code speaks for every domain on the shared libvirtd (other test files define odd ones): check this one's row.
		const virshes = await countingVirsh();
		const list = await snapdeck(['list', '--json', '--connect', uri], virshes.env);
		const row = (jsonOf(list)['vms'] as Array<Record<string, unknown>>).find(vm => vm['name'] === domain.name);
		expect(row).toMatchObject({
			state: 'running',
			chainDepth: 1,
			error: null,
			disks: [expect.objectContaining({file: domain.image})],
		});
		// Each question to libvirt crosses the network: two batches for the list, two for the take (its
		// inventory, then the create). (Its virsh may end between them: the images are read over ssh meanwhile.)
		expect(await virshes.count()).toMatchObject({roundTrips: 2});
		expect((await snapdeck(['snapshot', domain.name, 'e1', '--yes', '--connect', uri], virshes.env)).exitCode).toBe(0);
		const take = await virshes.count();
		expect(take.roundTrips).toBe(2);
		expect(take.commands.map(command => command.split(' ')[0])).toEqual([
			"'domstate'",
			"'dumpxml'",
			"'snapshot-list'",
			"'snapshot-current'",
			"'snapshot-create-as'",
		]);
		await domain.guestWrite(0xb2, 1);
		const revert = await snapdeck(['revert', domain.name, 'e1', '--yes', '--connect', uri]);
		expect(revert.exitCode).toBe(0);
		const active = (await domain.hypervisor.inspect(domain.name)).state.definition.disks[0]!.file;
		expect(path.dirname(active)).toBe(hostile);
		expect(await qemuIo.holds(active, 0xa1, MiB, MiB)).toBe(true);
		expect((await qemuImg.info(active))['full-backing-filename']).toBe(domain.image);

		// The chain over ssh, read one layer at a time without opening backing files there.
		const rowNow = async () =>
			(jsonOf(await snapdeck(['list', '--json', '--connect', uri]))['vms'] as Array<Record<string, unknown>>).find(
				vm => vm['name'] === domain.name,
			);
		expect(await rowNow()).toMatchObject({
			chainDepth: 2,
			error: null,
			disks: [expect.objectContaining({chain: [active, domain.image]})],
		});
		// A base image whose header was made to name a protocol: reported, never followed there.
		await virsh('destroy', '--domain', domain.name); // its QEMU holds the image's lock
		await execa('qemu-img', [
			'rebase',
			'-u',
			'-f',
			'qcow2',
			'-F',
			'raw',
			'-b',
			'nbd://127.0.0.1:9/export',
			domain.image,
		]);
		expect((await rowNow())!['error']).toContain(`the backing file of ${domain.image} names a protocol`);

		for (const dir of [process.cwd(), os.homedir(), '/', path.dirname(hostile), hostile])
			expect(await exists(path.join(dir, marker))).toBe(false);
		expect((await readdir(hostile)).sort()).toEqual(['disk.qcow2', path.basename(active)].sort());
	});

	it('backs up a running domain over ssh into a local repository (full, then an incremental of just what changed) and restores a point there as a new domain', async () => {
		const marker = `snapdeck-injected-${process.pid}-b`;
		const hostile = path.join(await tempDir(), `backups' "here"; $(touch ${marker})`);
		await mkdir(hostile);
		const domain = await libvirtDomain({imageDir: hostile});
		const repo = path.join(await tempDir(), 'repo');
		const env = {SNAPDECK_REPO: repo};
		const copyOfLive = async (name: string) => {
			const copy = path.join(await tempDir(), name);
			await execa('qemu-img', ['convert', '-U', '-O', 'qcow2', domain.image, copy]);
			return copy;
		};
		await domain.guestWrite(0xc1, 1, 2);
		const full = await snapdeck(['backup', domain.name, '--json', '--connect', uri], env);
		expect(full.exitCode, full.stderr).toBe(0);
		const atFull = await copyOfLive('full.qcow2');
		await domain.guestWrite(0xc2, 20);
		const incremental = await snapdeck(['backup', domain.name, '--json', '--connect', uri], env);
		expect(incremental.exitCode).toBe(0);
		const atIncremental = await copyOfLive('incremental.qcow2');

		const points = jsonOf(await snapdeck(['backups', domain.name, '--json', '--connect', uri], env))[
			'points'
		] as Array<{id: string; kind: string; files: Array<{file: string}>}>;
		expect(points.map(point => point.kind)).toEqual(['full', 'incremental']);
		const top = path.join(repo, domain.name, points[1]!.files[0]!.file);
		const {stdout: map} = await execa('qemu-img', ['map', '--output=json', top]);
		const own = (JSON.parse(map) as Array<{depth: number; data: boolean; length: number}>)
			.filter(extent => extent.depth === 0 && extent.data)
			.reduce((sum, extent) => sum + extent.length, 0);
		expect(own).toBe(MiB);
		for (const [index, expected] of [atFull, atIncremental].entries()) {
			const target = path.join(await tempDir(), `restored-${index}.qcow2`);
			expect(
				(await snapdeck(['restore', domain.name, '--point', points[index]!.id, '--to', target, '--connect', uri], env))
					.exitCode,
			).toBe(0);
			expect(await qemuImg.same(target, expected)).toBe(true);
		}
		// The staging directory on the host is gone, and no name ran a command there.
		expect(await readdir(hostile)).toEqual(['disk.qcow2']);

		// Restored there as a new domain: its disk copied over ssh beside the original, then defined.
		const copy = `${domain.name}-copy`;
		try {
			const restore = await snapdeck(
				['restore', domain.name, '--point', points[1]!.id, '--as', copy, '--json', '--connect', uri],
				env,
			);
			expect(restore.exitCode, restore.stderr).toBe(0);
			const disk = path.join(hostile, `${copy}-vda.qcow2`);
			expect((await virsh('dumpxml', '--domain', copy)).stdout).toContain(`${copy}-vda.qcow2`);
			expect(await qemuImg.same(disk, atIncremental)).toBe(true);
			// Written there by its owner for its owner only, as the disk it copies (libvirt hands it to QEMU).
			expect((await stat(disk)).mode & 0o077).toBe(0);
			// A second restore under the same name is refused, and the first one's disk is kept.
			expect(
				(await snapdeck(['restore', domain.name, '--point', points[0]!.id, '--as', copy, '--connect', uri], env))
					.exitCode,
			).not.toBe(0);
			expect(await qemuImg.same(disk, atIncremental)).toBe(true);
		} finally {
			await virsh('undefine', '--domain', copy).catch(() => undefined);
		}
		// An instant restore there would hang the new domain's disk on this ssh connection: refused, saying what to do, nothing defined.
		const instant = await snapdeck(
			['restore', domain.name, '--point', points[1]!.id, '--instant', '--as', `${copy}-i`, '--connect', uri],
			env,
		);
		expect(instant.exitCode).not.toBe(0);
		expect(instant.stderr).toContain('no instant restore onto a remote libvirt host');
		expect(instant.stderr).toContain('restore with --as NAME');
		expect((await virsh('list', '--all', '--name')).stdout).not.toContain(`${copy}-i`);
		expect((await readdir(hostile)).sort()).toEqual(['disk.qcow2', `${copy}-vda.qcow2`].sort());
		// What a remote host lacks is a missing role with its reason, not a method that throws.
		const {connect} = await import('../../source/adapters/connect.js');
		const remote = await connect(uri);
		expect(remote.roles.instantRestores).toBeUndefined();
		expect(Object.keys(remote.unavailable).sort()).toEqual(['archives', 'inPlaceRestores', 'instantRestores']);
		for (const dir of [process.cwd(), os.homedir(), '/', path.dirname(hostile), hostile])
			expect(await exists(path.join(dir, marker))).toBe(false);
	});

	it('backs up a shut-off domain over ssh: a full copied by qemu-img there, never an incremental, saying why', async () => {
		const domain = await libvirtDomain();
		await domain.guestWrite(0xd1, 3);
		await domain.take('s1');
		await domain.guestWrite(0xd2, 4);
		await virsh('destroy', '--domain', domain.name);
		const repo = path.join(await tempDir(), 'repo');
		const env = {SNAPDECK_REPO: repo};
		expect((await snapdeck(['backup', domain.name, '--incremental', '--connect', uri], env)).stderr).toMatch(
			/is stopped, and libvirt 9 tracks changes/,
		);
		const backup = await snapdeck(['backup', domain.name, '--connect', uri], env);
		expect(backup.exitCode, backup.stderr).toBe(0);
		expect(backup.stderr).toMatch(/full backup, because .* is stopped, and libvirt 9 tracks changes/);
		const [point] = jsonOf(await snapdeck(['backups', domain.name, '--json', '--connect', uri], env))[
			'points'
		] as Array<{id: string}>;
		const target = path.join(await tempDir(), 'restored.qcow2');
		expect(
			(await snapdeck(['restore', domain.name, '--point', point!.id, '--to', target, '--connect', uri], env)).exitCode,
		).toBe(0);
		// The whole chain (the snapshot's base and the overlay after it), flattened into one full.
		expect(await qemuImg.same(target, await domain.activeFile())).toBe(true);
		expect(await qemuIo.holds(target, 0xd1, 3 * MiB, MiB)).toBe(true);
		expect(await qemuIo.holds(target, 0xd2, 4 * MiB, MiB)).toBe(true);
		expect((await readdir(domain.dir)).filter(name => name.startsWith('.snapdeck-'))).toEqual([]);
	});

	it('refuses a hostile snapshot name before anything goes over the wire', async () => {
		const domain = await libvirtDomain({running: false});
		for (const name of ["x';touch y;'", '$(reboot)', '-rf', 'a b']) {
			const run = await snapdeck(['snapshot', '--yes', '--connect', uri, '--', domain.name, name]);
			expect(run.exitCode).toBe(2);
		}
		expect((await virsh('snapshot-list', '--domain', domain.name, '--name')).stdout.trim()).toBe('');
	});

	it('lists over a few ssh connections, not one per image: the chains of every domain are read a layer deep at a time', async () => {
		const parent = await tempDir();
		const domains: Array<Awaited<ReturnType<typeof libvirtDomain>>> = [];
		for (const index of [1, 2, 3]) {
			await mkdir(path.join(parent, `d${index}`));
			const domain = await libvirtDomain({running: false, imageDir: path.join(parent, `d${index}`)});
			await domain.take('s1');
			await domain.take('s2');
			domains.push(domain);
		}
		// An ssh first on PATH that notes each connection it makes, then runs the real one.
		const wrappers = await tempDir();
		const log = path.join(wrappers, 'ssh.log');
		await writeFile(
			path.join(wrappers, 'ssh'),
			`#!/bin/sh\nprintf '%s\\n' "$*" >> '${log}'\nexec /usr/bin/ssh "$@"\n`,
			{mode: 0o755},
		);
		const list = await snapdeck(['list', '--json', '--connect', uri], {PATH: `${wrappers}:${process.env['PATH']}`});
		const rows = (jsonOf(list)['vms'] as Array<Record<string, unknown>>).filter(vm =>
			domains.some(domain => domain.name === vm['name']),
		);
		expect(rows.map(row => [row['chainDepth'], row['error']])).toEqual([
			[3, null],
			[3, null],
			[3, null],
		]);
		// Nine images, three deep: a connection per depth (other test files' domains may share them).
		const reads = (await readFile(log, 'utf8')).split('\n').filter(line => line.includes(parent));
		expect(reads.length).toBeLessThanOrEqual(3);
		expect(reads.join('\n').split('.qcow2').length - 1).toBeGreaterThanOrEqual(9);
	});
});
