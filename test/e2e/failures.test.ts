import {execFileSync, spawn} from 'node:child_process';
import {copyFile, mkdir, readdir, readFile} from 'node:fs/promises';
import path from 'node:path';
import {execa} from 'execa';
import {afterEach, describe, expect, it} from 'vitest';
import {jsonOf, snapdeck} from '../helpers/cli.js';
import {labWithVm, MiB, qemuImg, qemuIo, tempDir} from '../helpers/lab.js';

const isRoot = process.getuid?.() === 0;
const mounts: string[] = [];
afterEach(() => {
	for (const dir of mounts.splice(0)) execFileSync('umount', [dir]);
});

describe('failures part-way', () => {
	it.skipIf(!isRoot)('a disk too full for the plan is refused up front, changing nothing', async () => {
		const lab = await labWithVm('vm1', ['vda', 'vdb']);
		const small = await tempDir();
		execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=1600k', 'tmpfs', small]);
		mounts.push(small);
		const folder = path.join(small, 'vm1');
		await mkdir(folder);
		for (const file of ['vda.qcow2', 'vdb.qcow2', 'vm.json'])
			await copyFile(path.join(lab.folder, file), path.join(folder, file));
		const before = (await readdir(folder)).sort();
		const run = await snapdeck(['snapshot', 'vm1', 's1', '--yes', '--connect', `local:${small}`]);
		expect(run.exitCode).toBe(1);
		expect(run.stderr).toMatch(/needs 2\.0 MiB free in .*, and .* is available/);
		expect((await readdir(folder)).filter(name => name !== '.snapdeck').sort()).toEqual(before);
	});

	it('a step that fails after an earlier one succeeded is rolled back when only additions were made', async () => {
		const lab = await labWithVm('vm1', ['vda', 'vdb']);
		// Another process holds vdb open for writing, as a running QEMU would: qemu-img cannot write it.
		const holder = spawn('qemu-io', ['-f', 'qcow2', path.join(lab.folder, 'vdb.qcow2')], {
			stdio: ['pipe', 'ignore', 'ignore'],
		});
		try {
			// Until qemu-io has the image open (and locked): qemu-img, which takes the lock, is then refused.
			for (
				let waited = 0;
				(await execa('qemu-img', ['info', '--', path.join(lab.folder, 'vdb.qcow2')], {reject: false})).exitCode === 0;
				waited += 50
			) {
				if (waited > 10_000) expect.fail('qemu-io never locked vdb.qcow2');
				await new Promise(resolve => setTimeout(resolve, 50));
			}
			const run = await snapdeck(['snapshot', 'vm1', 'i1', '--internal', '--yes', '--connect', `local:${lab.root}`]);
			expect(run.exitCode).toBe(1);
			expect(run.stderr).toContain('nothing was changed');
			expect(run.stderr).toMatch(/lock/i);
		} finally {
			holder.kill();
		}
		expect((await qemuImg.info(path.join(lab.folder, 'vda.qcow2'))).snapshots ?? []).toEqual([]);
		expect((await lab.vmFile()).snapshots).toEqual([]);
		const tree = jsonOf(await snapdeck(['tree', 'vm1', '--json', '--connect', `local:${lab.root}`]));
		expect(tree['pending']).toBeNull();
		const journal = await readFile(path.join(lab.folder, '.snapdeck', 'journal.jsonl'), 'utf8');
		expect(journal).toContain('rolled back, nothing changed');
	});

	it('Ctrl-C during a merge stops it with the chain intact, and recover finishes it', async () => {
		const lab = await labWithVm('vm1', ['vda'], 256);
		const disk = async () => lab.activeFile();
		await qemuIo.write(await disk(), 0x11, 0, 128 * MiB);
		await lab.take('s1');
		// A layer big enough that its commit is still copying when the interrupt arrives.
		await qemuIo.write(await disk(), 0x5a, 128 * MiB, 96 * MiB);
		await lab.take('s2');
		const child = execa(
			path.resolve('bin/snapdeck'),
			['merge', 'vm1', 's1', '--yes', '--json', '--connect', `local:${lab.root}`],
			{reject: false, stdin: 'ignore'},
		);
		let interrupted = false;
		child.stdout?.on('data', (chunk: Buffer) => {
			if (!interrupted && chunk.toString().includes('"type":"step"')) {
				interrupted = true;
				child.kill('SIGINT');
			}
		});
		const result = await child;
		expect(interrupted).toBe(true);
		expect(result.exitCode).toBe(1);
		expect(result.stderr).toContain('merge of vm1 was cancelled at step 1');
		expect(result.stderr).toContain("run 'snapdeck recover vm1'");
		const presentReads = async () => [
			await qemuIo.holds(await disk(), 0x11, 0, 128 * MiB),
			await qemuIo.holds(await disk(), 0x5a, 128 * MiB, 96 * MiB),
		];
		expect(await lab.imagesHealthy()).toBe(true);
		expect(await presentReads()).toEqual([true, true]);

		const recovered = await snapdeck(['recover', 'vm1', '--connect', `local:${lab.root}`]);
		expect(recovered.exitCode).toBe(0);
		expect((await lab.vmFile()).snapshots.map(snapshot => snapshot.name)).toEqual(['s2']);
		expect(await presentReads()).toEqual([true, true]);
	});
});
