import {mkdir, mkdtemp, readdir, rm, writeFile} from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import {execa} from 'execa';
import {afterEach, beforeEach, describe, expect, it} from 'vitest';
import {restoreBackup, runBackup} from '../helpers/backup.js';
import {Repository} from '../../source/backup/repository.js';
import type {PlanEvent} from '../../source/core/plan.js';
import {sessionPorts} from '../../source/service/session-ports.js';
import {MiB, qemuImg, qemuIo, tempDir} from '../helpers/lab.js';
import {libvirtDomain, virsh} from '../helpers/libvirt.js';

async function ownDataBytes(file: string): Promise<number> {
	const {stdout} = await execa('qemu-img', ['map', '-U', '--output=json', file]);
	return (JSON.parse(stdout) as Array<{depth: number; data: boolean; length: number}>)
		.filter(extent => extent.depth === 0 && extent.data)
		.reduce((sum, extent) => sum + extent.length, 0);
}

/** The folders of pull-mode backups' NBD sockets in the temp directory. */
const socketFolders = async () => (await readdir(os.tmpdir())).filter(name => name.startsWith('snapdeck-nbd-'));

// Each test has a temp directory of its own, where pull-mode backups make their sockets' folders:
// what is left there is this test's (other test files back up at the same time).
let savedTmpdir: string | undefined;
beforeEach(async () => {
	savedTmpdir = process.env['TMPDIR'];
	process.env['TMPDIR'] = await mkdtemp(path.join(os.tmpdir(), 'snapdeck-test-tmpdir-'));
});
afterEach(async () => {
	const own = process.env['TMPDIR']!;
	if (savedTmpdir === undefined) delete process.env['TMPDIR'];
	else process.env['TMPDIR'] = savedTmpdir;
	await rm(own, {recursive: true, force: true});
});

describe('backups of libvirt domains (running: backup-begin and checkpoints; stopped: qemu-storage-daemon)', () => {
	it('full, incremental with just the 3 MiB written, and still incremental across an external snapshot', async () => {
		const dom = await libvirtDomain({sizeMiB: 2048});
		const repo = new Repository(await tempDir());
		const copies = await tempDir();
		const copyOfLive = async (name: string) => {
			const copy = path.join(copies, name);
			await execa('qemu-img', ['convert', '-U', '-O', 'qcow2', await dom.activeFile(), copy]);
			return copy;
		};
		await dom.guestWrite(0x11, 1, 4);
		const full = await runBackup(dom.hypervisor, repo, dom.name, {mode: 'auto', command: 'test'});
		expect(full.kind).toBe('full');
		expect(String(full.definition)).toContain(`<name>${dom.name}</name>`);
		// A full is read once over NBD (pull mode) and compressed as it is read; an incremental is
		// written plain by libvirt's push backup and compressed after it.
		expect(full.compression).toBe('zstd');
		const check = async (file: string) =>
			JSON.parse((await execa('qemu-img', ['check', '-U', '--output=json', file])).stdout) as {
				'compressed-clusters'?: number;
			};
		expect((await check(repo.resolve(dom.name, full.files[0]!.file)))['compressed-clusters']).toBeGreaterThan(0);
		expect(full.files[0]!.size).toBeLessThan(1 * MiB);
		const atFull = await copyOfLive('full.qcow2');
		expect((await virsh('checkpoint-list', '--domain', dom.name, '--name')).stdout.trim()).toBe(full.bitmap);

		await dom.guestWrite(0x22, 100, 3);
		const incremental = await runBackup(dom.hypervisor, repo, dom.name, {mode: 'auto', command: 'test'});
		expect(incremental.kind).toBe('incremental');
		const file = repo.resolve(dom.name, incremental.files[0]!.file);
		expect(await ownDataBytes(file)).toBe(3 * MiB);
		expect((await check(file))['compressed-clusters']).toBeGreaterThan(0);
		expect((await qemuImg.info(file))['backing-filename']).toBe(path.basename(full.files[0]!.file));
		expect(await qemuImg.same(repo.resolve(dom.name, full.files[0]!.file), atFull)).toBe(true);
		expect(await qemuImg.same(file, await copyOfLive('incremental.qcow2'))).toBe(true);
		// Only the newest point's checkpoint is kept.
		expect((await virsh('checkpoint-list', '--domain', dom.name, '--name')).stdout.trim()).toBe(incremental.bitmap);

		// A snapshot puts the domain on a new overlay; libvirt carries the bitmap over to it.
		await dom.take('s1');
		await dom.guestWrite(0x33, 200, 1);
		const afterSnapshot = await runBackup(dom.hypervisor, repo, dom.name, {mode: 'auto', command: 'test'});
		expect(afterSnapshot.kind).toBe('incremental');
		const third = repo.resolve(dom.name, afterSnapshot.files[0]!.file);
		expect(await ownDataBytes(third)).toBe(1 * MiB);
		expect(await qemuImg.same(third, await copyOfLive('third.qcow2'))).toBe(true);
	});

	it('a compressed full reads the disk once over NBD, holds the disk as it was when it began while the guest writes on, and leaves no job, socket or scratch file', async () => {
		const dom = await libvirtDomain();
		const repo = new Repository(await tempDir());
		await dom.guestWrite(0x51, 0, 4);
		await dom.guestWrite(0x52, 56, 4);
		const events: PlanEvent[] = [];
		// 2 MiB/s: the 8 MiB of data take seconds to read, and the guest writes in the middle of it.
		let copying!: () => void;
		const started = new Promise<void>(resolve => (copying = resolve));
		const backup = runBackup(dom.hypervisor, repo, dom.name, {
			mode: 'full',
			command: 'test',
			bytesPerSecond: 2 * MiB,
			onEvent: event => {
				events.push(event);
				if (event.type === 'progress' && event.bytesDone > 0) copying();
			},
		});
		await started;
		await dom.guestWrite(0x53, 56, 4);
		const full = await backup;
		const file = repo.resolve(dom.name, full.files[0]!.file);
		// The point holds the disk as it was when the backup began; the disk has the new data.
		expect(await dom.reads(file, 0x51, 0)).toBe(true);
		expect(await dom.reads(file, 0x52, 59)).toBe(true);
		expect(await dom.reads(await dom.activeFile(), 0x53, 59)).toBe(true);
		const check = JSON.parse((await execa('qemu-img', ['check', '-U', '--output=json', file])).stdout) as {
			'compressed-clusters'?: number;
		};
		expect(check['compressed-clusters']).toBeGreaterThan(0);
		// One pass: no second one to compress what was written plain.
		expect(events.filter(event => event.type === 'step' && event.summary.startsWith('compress'))).toEqual([]);
		expect((await virsh('domjobinfo', '--domain', dom.name)).stdout).toMatch(/Job type:\s+None/);
		expect(await socketFolders()).toEqual([]);
		expect((await readdir(path.dirname(file))).filter(name => name.endsWith('.scratch.qcow2'))).toEqual([]);
		// Its checkpoint was made at the same instant: the next incremental holds just what came after.
		expect((await virsh('checkpoint-list', '--domain', dom.name, '--name')).stdout.trim()).toBe(full.bitmap);
		await dom.guestWrite(0x54, 20, 1);
		const incremental = await runBackup(dom.hypervisor, repo, dom.name, {mode: 'auto', command: 'test'});
		expect(incremental.kind).toBe('incremental');
		expect(await ownDataBytes(repo.resolve(dom.name, incremental.files[0]!.file))).toBe(5 * MiB);
	});

	it("a compressed full killed in the middle leaves libvirt's pull job running; the next backup ends it and backs up whole", async () => {
		const dom = await libvirtDomain();
		const repo = await tempDir();
		await dom.guestWrite(0x61, 0, 8);
		const env = {NO_COLOR: '1', SNAPDECK_REPO: repo};
		const child = execa(
			path.resolve('bin/snapdeck'),
			['backup', dom.name, '--full', '--json', '--limit', '1', '--connect', 'qemu:///system'],
			{env, reject: false, stdin: 'ignore'},
		);
		await new Promise<void>(resolve =>
			child.stdout!.on(
				'data',
				(chunk: Buffer) => /"type":"progress".*"bytesDone":[1-9]/.test(chunk.toString()) && resolve(),
			),
		);
		child.kill('SIGKILL');
		await child;
		// A pull job ends only when its reader says so: the killed snapdeck never did.
		expect((await virsh('domjobinfo', '--domain', dom.name)).stdout).toMatch(/Operation:\s+Backup/);
		expect(await socketFolders()).toHaveLength(1);

		const full = await runBackup(dom.hypervisor, new Repository(repo), dom.name, {mode: 'full', command: 'test'});
		expect(await dom.reads(path.join(repo, dom.name, full.files[0]!.file), 0x61, 7)).toBe(true);
		expect((await virsh('domjobinfo', '--domain', dom.name)).stdout).toMatch(/Job type:\s+None/);
		expect(await socketFolders()).toEqual([]);
		expect(await readdir(path.join(repo, dom.name, 'vda'))).toEqual([path.basename(full.files[0]!.file)]);
		expect((await virsh('checkpoint-list', '--domain', dom.name, '--name')).stdout.trim()).toBe(full.bitmap);
	});

	it("a compressed full cancelled in the middle: libvirt's job ended, no checkpoint made, the repository as it was", async () => {
		const dom = await libvirtDomain();
		const repo = new Repository(await tempDir());
		await dom.guestWrite(0x71, 0, 8);
		const cancel = new AbortController();
		const backup = runBackup(dom.hypervisor, repo, dom.name, {
			mode: 'full',
			command: 'test',
			bytesPerSecond: MiB,
			signal: cancel.signal,
			onEvent: event => {
				if (event.type === 'progress' && event.bytesDone > 0) cancel.abort();
			},
		});
		await expect(backup).rejects.toThrow(/was cancelled; the repository is as it was/);
		expect((await repo.read(dom.name)).points).toEqual([]);
		expect((await virsh('domjobinfo', '--domain', dom.name)).stdout).toMatch(/Job type:\s+None/);
		expect((await virsh('checkpoint-list', '--domain', dom.name, '--name')).stdout.trim()).toBe('');
		expect(await socketFolders()).toEqual([]);
		expect(await readdir(path.join(repo.vmDir(dom.name), 'vda'))).toEqual([]);
	});

	it('where pull mode cannot begin (a socket path too long for a unix socket), a compressed full is pushed and compressed after', async () => {
		const dom = await libvirtDomain();
		const repo = new Repository(await tempDir());
		await dom.guestWrite(0x81, 0, 2);
		// The temp directory's path alone fills a unix socket's 108 bytes: QEMU cannot listen there.
		const long = path.join(await tempDir(), 'x'.repeat(100));
		await mkdir(long);
		const events: PlanEvent[] = [];
		const saved = process.env['TMPDIR'];
		process.env['TMPDIR'] = long;
		try {
			const full = await runBackup(dom.hypervisor, repo, dom.name, {
				mode: 'full',
				command: 'test',
				onEvent: event => events.push(event),
			});
			// The pass of its own says why, for an operator wondering why this backup is the slower kind.
			const compressing = events.find(event => event.type === 'step' && event.summary.startsWith('compress vda'));
			expect(compressing).toMatchObject({
				summary: expect.stringMatching(/, a pass of its own: libvirt would not begin a pull-mode backup: \S.*/),
			});
			const file = repo.resolve(dom.name, full.files[0]!.file);
			expect(await dom.reads(file, 0x81, 1)).toBe(true);
			const check = JSON.parse((await execa('qemu-img', ['check', '-U', '--output=json', file])).stdout) as {
				'compressed-clusters'?: number;
			};
			expect(check['compressed-clusters']).toBeGreaterThan(0);
			expect((await virsh('checkpoint-list', '--domain', dom.name, '--name')).stdout.trim()).toBe(full.bitmap);
			expect(await readdir(long)).toEqual([]);
		} finally {
			if (saved === undefined) delete process.env['TMPDIR'];
			else process.env['TMPDIR'] = saved;
		}
	});

	it('an audited backup where pull mode cannot begin is refused, saying why: nothing copied, no checkpoint made', async () => {
		const dom = await libvirtDomain();
		const repo = new Repository(await tempDir());
		await dom.guestWrite(0x82, 0, 2);
		const long = path.join(await tempDir(), 'x'.repeat(100));
		await mkdir(long);
		const saved = process.env['TMPDIR'];
		process.env['TMPDIR'] = long;
		try {
			await expect(
				runBackup(dom.hypervisor, repo, dom.name, {mode: 'full', command: 'test', audit: true}),
			).rejects.toThrow(/cannot audit this backup of \S+: .*libvirt would not begin a pull-mode backup: \S/);
			expect((await repo.read(dom.name)).points).toEqual([]);
			expect((await virsh('checkpoint-list', '--domain', dom.name, '--name')).stdout.trim()).toBe('');
			expect((await virsh('domjobinfo', '--domain', dom.name)).stdout).toMatch(/Job type:\s+None/);
			expect(await readdir(long)).toEqual([]);
		} finally {
			if (saved === undefined) delete process.env['TMPDIR'];
			else process.env['TMPDIR'] = saved;
		}
	});

	it("an audit cancelled while it reads the exports: libvirt's pull job ended, its socket and scratch files gone", async () => {
		const dom = await libvirtDomain();
		const repo = new Repository(await tempDir());
		await dom.guestWrite(0x83, 0, 2);
		const cancel = new AbortController();
		let auditing = false;
		const audited = runBackup(dom.hypervisor, repo, dom.name, {
			mode: 'full',
			command: 'test',
			audit: true,
			signal: cancel.signal,
			onEvent: event => {
				if (event.type === 'step' && event.summary.startsWith('audit vda')) {
					auditing = true;
					cancel.abort();
				}
			},
		});
		await expect(audited).rejects.toThrow(
			/the audit could not compare the disk with its backup: qemu-img was cancelled/,
		);
		expect(auditing).toBe(true);
		expect((await virsh('domjobinfo', '--domain', dom.name)).stdout).toMatch(/Job type:\s+None/);
		expect(await socketFolders()).toEqual([]);
		expect((await readdir(path.join(repo.vmDir(dom.name), 'vda'))).filter(name => name.includes('scratch'))).toEqual(
			[],
		);
		// The pull job ended, the next backup begins at once.
		expect((await runBackup(dom.hypervisor, repo, dom.name, {mode: 'auto', command: 'test'})).state).toBe('complete');
	});

	it("refuses at once, saying why, while another tool's backup job runs on the domain (libvirt would wait 30 s, then time out)", async () => {
		const dom = await libvirtDomain();
		const other = await tempDir();
		const xml = path.join(other, 'backup.xml');
		await writeFile(
			xml,
			`<domainbackup mode='pull'><server transport='unix' socket='${other}/nbd.sock'/><disks><disk name='vda' backup='yes' type='file'><scratch file='${other}/vda.scratch'/></disk></disks></domainbackup>`,
		);
		await virsh('backup-begin', '--domain', dom.name, '--backupxml', xml);
		const repo = new Repository(await tempDir());
		await expect(runBackup(dom.hypervisor, repo, dom.name, {mode: 'full', command: 'test'})).rejects.toMatchObject({
			message: expect.stringMatching(/libvirt is running a backup on it/),
			hint: expect.stringContaining(`virsh domjobabort ${dom.name}`),
		});
		expect((await repo.read(dom.name)).points).toEqual([]);
		// Not ours: left running.
		expect((await virsh('domjobinfo', '--domain', dom.name)).stdout).toMatch(/Operation:\s+Backup/);
	});

	it('restores a point as a new domain: new name, new UUID, its own disk holding the data', async () => {
		const dom = await libvirtDomain();
		const repo = new Repository(await tempDir());
		await dom.guestWrite(0x44, 2);
		const point = await runBackup(dom.hypervisor, repo, dom.name, {mode: 'auto', command: 'test'});
		const copy = `${dom.name}-copy`;
		try {
			const restored = await restoreBackup(repo, dom.hypervisor, dom.name, {
				point: point.id,
				as: copy,
				command: 'test',
			});
			expect(restored).toEqual({vda: path.join(dom.dir, `${copy}-vda.qcow2`)});
			const xml = (await virsh('dumpxml', '--domain', copy)).stdout;
			expect(xml).toContain(`<source file='${restored['vda']}'/>`);
			const uuid = async (name: string) => (await virsh('domuuid', '--domain', name)).stdout.trim();
			expect(await uuid(copy)).not.toBe(await uuid(dom.name));
			expect(await dom.reads(restored['vda']!, 0x44, 2)).toBe(true);
		} finally {
			await execa('virsh', ['-c', 'qemu:///system', 'undefine', '--domain', copy], {reject: false});
		}
	});

	it('a whole-VM archive of a stopped domain: restored as a new domain with its snapshots redefined, each reverting to its own data', async () => {
		const dom = await libvirtDomain({running: false});
		const repo = new Repository(await tempDir());
		const write = async (pattern: number, mib: number) => qemuIo.write(await dom.activeFile(), pattern, mib * MiB, MiB);
		await write(0x61, 1);
		await dom.take('s1');
		await write(0x62, 2);
		await dom.take('s2');
		await write(0x63, 3);
		const point = await runBackup(dom.hypervisor, repo, dom.name, {mode: 'auto', command: 'test', withSnapshots: true});
		expect(point.archive?.map(image => image.backing === null)).toEqual(expect.arrayContaining([true, false, false]));
		const copy = `${dom.name}-copy`;
		let folder = '';
		try {
			const restored = await restoreBackup(repo, dom.hypervisor, dom.name, {
				point: point.id,
				as: copy,
				command: 'test',
			});
			folder = path.dirname(restored['vda']!);
			expect(folder).toBe(path.join(dom.dir, copy));
			const service = sessionPorts(dom.hypervisor);
			const tree = await service.tree(copy);
			expect([tree.current, tree.snapshots.map(snapshot => snapshot.name).sort()]).toEqual(['s2', ['s1', 's2']]);
			const active = async () => (await dom.hypervisor.inspect(copy)).state.definition.disks[0]!.file;
			expect([await qemuIo.holds(await active(), 0x63, 3 * MiB, MiB), (await active()).startsWith(folder)]).toEqual([
				true,
				true,
			]);
			for (const [snapshot, expected] of [
				['s1', [true, false]],
				['s2', [true, true]],
			] as const) {
				await service.perform({kind: 'revert', vm: copy, snapshot}, {command: 'test', confirm: async () => true});
				expect(
					[
						await qemuIo.holds(await active(), 0x61, MiB, MiB),
						await qemuIo.holds(await active(), 0x62, 2 * MiB, MiB),
						await qemuIo.holds(await active(), 0, 3 * MiB, MiB),
					],
					`${copy} at ${snapshot}`,
				).toEqual([...expected, true]);
			}
			// The original's images are untouched: it still reads its present state.
			expect(await qemuIo.holds(await dom.activeFile(), 0x63, 3 * MiB, MiB)).toBe(true);
		} finally {
			await execa('virsh', ['-c', 'qemu:///system', 'undefine', '--domain', copy, '--snapshots-metadata'], {
				reject: false,
			});
			if (folder) await rm(folder, {recursive: true, force: true});
		}
	});

	it('a stopped domain with backup checkpoints: libvirt refuses disk operations, and the refusal says what to do', async () => {
		const dom = await libvirtDomain();
		const repo = new Repository(await tempDir());
		await dom.guestWrite(0x51, 1);
		const point = await runBackup(dom.hypervisor, repo, dom.name, {mode: 'auto', command: 'test'});
		await virsh('destroy', '--domain', dom.name);
		const before = await dom.activeFile();
		const service = sessionPorts(dom.hypervisor, {repository: repo.root});
		const attempt = service.restoreInPlace(dom.name, {point: point.id, command: 'test', confirm: async () => true});
		// libvirt 9.0 and 11.3 (Debian 13, tried from bookworm-backports) refuse in different words.
		await expect(attempt).rejects.toThrow(
			/cannot perform block operations while checkpoint exists|offline external snapshots while checkpoint exists/,
		);
		// A restore in place needs the domain stopped, so the way out it names is another.
		await expect(attempt).rejects.toMatchObject({
			hint: expect.stringContaining('restore the point as a new VM instead (--as NAME)'),
		});
		expect(await dom.activeFile()).toBe(before);
		expect((await dom.hypervisor.inspect(dom.name)).state.definition.snapshots).toEqual([]);
	});

	it('a stopped domain: a full of its disks (never an incremental, saying why), restorable, and incrementals again once it runs', async () => {
		const dom = await libvirtDomain();
		const repo = new Repository(await tempDir());
		await dom.guestWrite(0x61, 1);
		const running = await runBackup(dom.hypervisor, repo, dom.name, {mode: 'auto', command: 'test'});
		const checkpoints = async () => (await virsh('checkpoint-list', '--domain', dom.name, '--name')).stdout.trim();
		expect(await checkpoints()).toBe(running.bitmap);
		await dom.guestWrite(0x62, 5, 2);
		await virsh('destroy', '--domain', dom.name);
		const disk = await dom.activeFile();
		const copies = await tempDir();
		const atStop = path.join(copies, 'stopped.qcow2');
		await execa('qemu-img', ['convert', '-O', 'qcow2', disk, atStop]);

		await expect(runBackup(dom.hypervisor, repo, dom.name, {mode: 'incremental', command: 'test'})).rejects.toThrow(
			/is stopped, and libvirt 9 tracks changes \(checkpoints\) only while a domain runs/,
		);
		const decisions: string[] = [];
		const stopped = await runBackup(dom.hypervisor, repo, dom.name, {
			mode: 'auto',
			command: 'test',
			onDecision: decision => decisions.push(`${decision.kind}: ${decision.reason}`),
		});
		expect(stopped.kind).toBe('full');
		expect(stopped.bitmap).toBeNull();
		expect(decisions[0]).toMatch(/^full: .* is stopped/);
		expect(String(stopped.definition)).toContain(`<name>${dom.name}</name>`);
		// The copy is the disk as it was, and the domain's image and checkpoint are untouched.
		expect(await qemuImg.same(repo.resolve(dom.name, stopped.files[0]!.file), atStop)).toBe(true);
		expect(await qemuImg.same(disk, atStop)).toBe(true);
		expect(await checkpoints()).toBe(running.bitmap);
		expect((await execa('pgrep', ['-f', 'qemu-storage-daemon.*read-only=on'], {reject: false})).stdout).toBe('');
		const restored = path.join(copies, 'restored.qcow2');
		await restoreBackup(repo, dom.hypervisor, dom.name, {point: stopped.id, to: restored, command: 'test'});
		expect(await dom.reads(restored, 0x62, 6)).toBe(true);

		// Running again: the stopped full left no bitmap, so the next is a full with a new checkpoint
		// (the old one is dropped), and the one after that an incremental again.
		await virsh('start', '--domain', dom.name);
		const next = await runBackup(dom.hypervisor, repo, dom.name, {mode: 'auto', command: 'test'});
		expect(next.kind).toBe('full');
		expect(next.reason).toMatch(/left no dirty bitmap/);
		expect(await checkpoints()).toBe(next.bitmap);
		await dom.guestWrite(0x63, 9);
		expect((await runBackup(dom.hypervisor, repo, dom.name, {mode: 'auto', command: 'test'})).kind).toBe('incremental');
	});
});
