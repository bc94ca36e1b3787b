import {createHash} from 'node:crypto';
import {chmod, mkdir, readdir, readFile, stat, writeFile} from 'node:fs/promises';
import path from 'node:path';
import {execa} from 'execa';
import {describe, expect, it} from 'vitest';
import {jsonOf, snapdeck} from '../helpers/cli.js';
import {labWithVm, MiB, qemuImg, tempDir} from '../helpers/lab.js';

/**
 * Metadata that contradicts itself or points where snapdeck never put anything: each case is
 * reported by list, tree and health, and refused by every change, which leaves every file as it was.
 */

/** Every file under `dir` with its bytes' hash: a refused command must leave all of them as they were. */
async function fingerprint(dir: string): Promise<Record<string, string>> {
	const out: Record<string, string> = {};
	for (const entry of await readdir(dir, {withFileTypes: true, recursive: true})) {
		if (!entry.isFile()) continue;
		const file = path.join(entry.parentPath, entry.name);
		if (file.includes(`${path.sep}.snapdeck${path.sep}`)) continue;
		out[path.relative(dir, file)] = createHash('sha256')
			.update(await readFile(file))
			.digest('hex');
	}
	return out;
}

// The edits reach anywhere in the JSON, as a hostile hand would: untyped on purpose.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
async function editVm(folder: string, edit: (vm: Record<string, any>) => void) {
	const file = path.join(folder, 'vm.json');
	// eslint-disable-next-line @typescript-eslint/no-explicit-any
	const vm = JSON.parse(await readFile(file, 'utf8')) as Record<string, any>;
	edit(vm);
	await writeFile(file, JSON.stringify(vm));
}

/** A lab whose vm1 has snapshots s1 and s2 (external), data written before each. */
async function twoSnapshots() {
	const lab = await labWithVm();
	await lab.write(0x11, 0);
	await lab.take('s1');
	await lab.write(0x22, 1);
	await lab.take('s2');
	await lab.write(0x33, 2);
	const connect = ['--connect', `local:${lab.root}`];
	return {lab, connect};
}

/** list, tree and health all report `words`; each change in `changes` is refused and changes nothing. */
async function reportedAndRefused(root: string, connect: string[], words: string, changes: string[][]) {
	const list = await snapdeck(['list', '--json', ...connect]);
	expect(list.exitCode).toBe(1);
	expect(
		(jsonOf(list)['vms'] as Array<{name: string; error: string | null}>).find(vm => vm.name === 'vm1')!.error,
	).toContain(words);
	const tree = await snapdeck(['tree', 'vm1', '--json', ...connect]);
	expect(tree.exitCode).not.toBe(0);
	expect(tree.stdout + tree.stderr).toContain(words);
	const health = await snapdeck(['health', 'vm1', '--json', ...connect]);
	expect(health.exitCode).toBe(2);
	expect(JSON.stringify(jsonOf(health)['findings'])).toContain(words);
	const before = await fingerprint(root);
	for (const change of changes) {
		const run = await snapdeck([...change, ...connect]);
		expect(run.exitCode, `${change.join(' ')}: ${run.stderr}`).toBe(1);
		expect(run.stderr, change.join(' ')).toContain(words);
	}
	expect(await fingerprint(root)).toEqual(before);
}

const everyChange = (repo: string) => [
	['merge', 'vm1', 's1', '--yes'],
	['merge', 'vm1', 's2', '--yes'],
	['revert', 'vm1', 's1', '--yes'],
	['snapshot', 'vm1', 's3', '--yes'],
	['backup', 'vm1', '--repo', repo],
	['start', 'vm1'],
];

describe('a vm.json that contradicts itself blocks every change', () => {
	it('a snapshot whose frozen image is the active image (a merge used to delete the only active disk)', async () => {
		const {lab, connect} = await twoSnapshots();
		const active = (await lab.vmFile()).disks[0]!.file;
		await editVm(lab.folder, vm => {
			vm.snapshots[1].disks[0].file = active;
		});
		await reportedAndRefused(
			lab.root,
			connect,
			`names ${active} as its frozen image, but it is the active image of disk vda`,
			everyChange(path.join(await tempDir(), 'repo')),
		);
		expect(await lab.reads(0x33, 2)).toBe(true);
	});

	it("a snapshot that is its own parent, and two that are each other's", async () => {
		const {lab, connect} = await twoSnapshots();
		await editVm(lab.folder, vm => {
			vm.snapshots[0].parent = 's1';
		});
		await reportedAndRefused(
			lab.root,
			connect,
			"snapshot 's1' names itself as its parent",
			everyChange(path.join(await tempDir(), 'repo')),
		);
		await editVm(lab.folder, vm => {
			vm.snapshots[0].parent = 's2';
		});
		await reportedAndRefused(
			lab.root,
			connect,
			"are each other's parents (a loop)",
			everyChange(path.join(await tempDir(), 'repo')),
		);
	});

	it('a parent or current snapshot that does not exist, and two snapshots freezing one image', async () => {
		const {lab, connect} = await twoSnapshots();
		await editVm(lab.folder, vm => {
			vm.snapshots[1].parent = 'gone';
		});
		await reportedAndRefused(
			lab.root,
			connect,
			"names a parent that does not exist ('gone')",
			everyChange(path.join(await tempDir(), 'repo')),
		);
		await editVm(lab.folder, vm => {
			vm.snapshots[1].parent = 's1';
			vm.snapshots[1].disks[0].file = vm.snapshots[0].disks[0].file;
		});
		await reportedAndRefused(
			lab.root,
			connect,
			"snapshots 's1' and 's2' both name vda.qcow2 as their frozen image",
			everyChange(path.join(await tempDir(), 'repo')),
		);
		await editVm(lab.folder, vm => {
			vm.snapshots[1].disks[0].file = 'vda.s1.qcow2';
			vm.current = 'nowhere';
		});
		await reportedAndRefused(
			lab.root,
			connect,
			"the current snapshot 'nowhere' does not exist",
			everyChange(path.join(await tempDir(), 'repo')),
		);
	});
});

describe("paths that lead out of the VM's folder, protocols and devices are never followed", () => {
	it("a disk, and a snapshot image, named outside the VM's folder", async () => {
		const {lab, connect} = await twoSnapshots();
		const other = path.join(lab.root, 'other');
		await mkdir(other);
		await qemuImg.create(path.join(other, 'secret.qcow2'), {size: MiB});
		await editVm(lab.folder, vm => {
			vm.snapshots[0].disks[0].file = '../other/secret.qcow2';
		});
		await reportedAndRefused(
			lab.root,
			connect,
			"lies outside the VM's folder",
			everyChange(path.join(await tempDir(), 'repo')),
		);
		await editVm(lab.folder, vm => {
			vm.snapshots[0].disks[0].file = 'vda.qcow2';
			vm.disks[0].file = path.join(other, 'secret.qcow2');
		});
		await reportedAndRefused(
			lab.root,
			connect,
			"lies outside the VM's folder",
			everyChange(path.join(await tempDir(), 'repo')),
		);
		expect(await readdir(other)).toEqual(['secret.qcow2']);
	});

	it.each([
		['a json: protocol', 'json:{"driver":"file","filename":"SECRET"}', 'names a protocol'],
		['an nbd:// protocol', 'nbd://127.0.0.1:9/export', 'names a protocol'],
		['a device', '/dev/zero', 'is a device, not an image file'],
		['a file outside the folder', 'SECRET', "lies outside the VM's folder"],
	])('a backing file that is %s: reported, and nothing reads it', async (_kind, backingTemplate, words) => {
		const {lab, connect} = await twoSnapshots();
		const secret = path.join(await tempDir(), 'secret.raw');
		await writeFile(secret, 'top secret\n'.repeat(1000));
		await chmod(secret, 0o600);
		const backing = backingTemplate.replace('SECRET', secret);
		// The base image now claims a backing file it never had (qemu-img rebase -u writes only the header).
		await execa('qemu-img', [
			'rebase',
			'-u',
			'-f',
			'qcow2',
			'-F',
			'raw',
			'-b',
			backing,
			path.join(lab.folder, 'vda.qcow2'),
		]);
		const repo = path.join(await tempDir(), 'repo');
		await reportedAndRefused(lab.root, connect, words, everyChange(repo));
		const copied = (await readdir(repo, {recursive: true}).catch(() => [] as string[])).filter(
			name => name.endsWith('.qcow2') || name === 'manifest.json',
		);
		expect(copied).toEqual([]);
	});

	it('a backing chain that loops: health ends (qemu-img is never run on it) and every change is refused', async () => {
		const {lab, connect} = await twoSnapshots();
		await execa('qemu-img', [
			'rebase',
			'-u',
			'-f',
			'qcow2',
			'-F',
			'qcow2',
			'-b',
			'vda.s2.qcow2',
			path.join(lab.folder, 'vda.qcow2'),
		]);
		await reportedAndRefused(lab.root, connect, 'loops', everyChange(path.join(await tempDir(), 'repo')));
	});

	it('an image whose header QEMU would refuse to open makes list and tree exit 1', async () => {
		const lab = await labWithVm();
		const image = path.join(lab.folder, 'vda.qcow2');
		const handle = await (await import('node:fs/promises')).open(image, 'r+');
		const offset = Buffer.alloc(8);
		offset.writeBigUInt64BE(12345n); // the L1 table at an offset that is not cluster-aligned
		await handle.write(offset, 0, 8, 40);
		await handle.close();
		expect((await execa('qemu-img', ['info', image], {reject: false})).exitCode).not.toBe(0);
		const list = await snapdeck(['list', '--connect', `local:${lab.root}`]);
		expect(list.exitCode).toBe(1);
		expect(list.stdout + list.stderr).toContain('cannot be opened by QEMU');
		const tree = await snapdeck(['tree', 'vm1', '--connect', `local:${lab.root}`]);
		expect(tree.exitCode).toBe(1);
		expect(tree.stdout).toContain('L1 table at unaligned offset 12345');
	});
});

describe('files snapdeck creates are no more readable than the disks they copy', () => {
	it("overlays take their backing image's mode; the repository is 0700 and its points 0600; restored images 0600", async () => {
		const {lab, connect} = await twoSnapshots();
		await chmod(path.join(lab.folder, 'vda.s2.qcow2'), 0o640);
		expect((await snapdeck(['snapshot', 'vm1', 's3', '--yes', ...connect])).exitCode).toBe(0);
		expect((await stat(path.join(lab.folder, 'vda.s3.qcow2'))).mode & 0o777).toBe(0o640);
		const repo = path.join(await tempDir(), 'repo');
		expect((await snapdeck(['backup', 'vm1', '--repo', repo, ...connect])).exitCode).toBe(0);
		expect((await stat(path.join(repo, 'vm1'))).mode & 0o777).toBe(0o700);
		expect((await stat(path.join(repo, 'vm1', 'vda'))).mode & 0o777).toBe(0o700);
		const [point] = await readdir(path.join(repo, 'vm1', 'vda'));
		expect((await stat(path.join(repo, 'vm1', 'vda', point!))).mode & 0o777).toBe(0o600);
		expect((await stat(path.join(repo, 'vm1', 'manifest.json'))).mode & 0o777).toBe(0o600);
		const target = path.join(await tempDir(), 'restored.qcow2');
		expect(
			(
				await snapdeck([
					'restore',
					'vm1',
					'--point',
					point!.replace('.qcow2', ''),
					'--to',
					target,
					'--repo',
					repo,
					...connect,
				])
			).exitCode,
		).toBe(0);
		expect((await stat(target)).mode & 0o777).toBe(0o600);
	});
});

describe('state files are never written through a symbolic link', () => {
	it('a .snapdeck folder, or a journal, that is a link elsewhere: refused, and nothing is written there', async () => {
		const lab = await labWithVm();
		const elsewhere = await tempDir();
		const {symlink} = await import('node:fs/promises');
		await symlink(elsewhere, path.join(lab.folder, '.snapdeck'));
		const take = await snapdeck(['snapshot', 'vm1', 's1', '--yes', '--connect', `local:${lab.root}`]);
		expect(take.exitCode).toBe(1);
		expect(take.stderr).toContain('it is a symbolic link, which snapdeck never follows for its own files');
		expect(await readdir(elsewhere)).toEqual([]);
		expect((await lab.vmFile()).snapshots).toEqual([]);

		const {rm: remove} = await import('node:fs/promises');
		await remove(path.join(lab.folder, '.snapdeck'));
		await mkdir(path.join(lab.folder, '.snapdeck'));
		const victim = path.join(elsewhere, 'victim');
		await writeFile(victim, 'precious\n');
		await symlink(victim, path.join(lab.folder, '.snapdeck', 'journal.jsonl'));
		const again = await snapdeck(['snapshot', 'vm1', 's1', '--yes', '--connect', `local:${lab.root}`]);
		expect([again.exitCode, again.stderr]).toEqual([
			1,
			expect.stringContaining('journal.jsonl: it is a symbolic link'),
		]);
		expect(await readFile(victim, 'utf8')).toBe('precious\n');
		expect((await lab.vmFile()).snapshots).toEqual([]);
	});
});

describe('text from outside never reaches the terminal raw', () => {
	it('a snapshot description and a folder name holding escape sequences, BEL, a carriage return and a bidi override are shown visibly by tree, list, health and log; --json keeps them as they are', async () => {
		const lab = await labWithVm();
		await lab.take('s1');
		const title = '\u001b]0;owned\u0007\u001b[2Jdone\rFAKE\u202etxt.exe';
		await editVm(lab.folder, vm => {
			vm['snapshots'][0]['description'] = title;
		});
		// A folder in the lab whose name no VM could have: listed (as not a VM), never printed raw.
		await mkdir(path.join(lab.root, 'evil\u001b[31mred'));
		const connect = ['--connect', `local:${lab.root}`];
		const raw = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u202e]/;
		for (const args of [['tree', 'vm1'], ['list'], ['health'], ['log', '--all-connections']]) {
			const result = await snapdeck([...args, ...connect]);
			expect(`${result.stdout}${result.stderr}`, args.join(' ')).not.toMatch(raw);
		}
		const tree = await snapdeck(['tree', 'vm1', ...connect]);
		expect(tree.stdout).toContain('\\x1b]0;owned\\x07\\x1b[2Jdone\\rFAKE\\u202etxt.exe');
		expect((await snapdeck(['list', ...connect])).stdout + (await snapdeck(['list', ...connect])).stderr).toContain(
			'evil\\x1b[31mred',
		);
		const json = jsonOf(await snapdeck(['tree', 'vm1', '--json', ...connect])) as {
			snapshots: Array<{description: string}>;
		};
		expect(json.snapshots[0]!.description).toBe(title);
	});
});
