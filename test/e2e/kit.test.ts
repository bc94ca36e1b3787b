import {cp, readdir, readFile, rm, symlink, writeFile} from 'node:fs/promises';
import path from 'node:path';
import {execa} from 'execa';
import {describe, expect, it} from 'vitest';
import {jsonLines, snapdeck} from '../helpers/cli.js';
import {labWithVm, MiB, qemuImg, qemuIo, tempDir} from '../helpers/lab.js';
import {libvirtDomain, URI} from '../helpers/libvirt.js';

/** A folder of links to what the kit may use: a shell, coreutils and qemu-img; no node, no virsh, no grep, sed or awk. */
async function barePath(): Promise<string> {
	const bin = await tempDir();
	const which = async (tool: string) => (await execa('sh', ['-c', `command -v ${tool}`])).stdout.trim();
	for (const tool of ['sh', 'sha256sum', 'mkdir', 'mv', 'cp', 'dirname', 'cat', 'ls', 'qemu-img'])
		await symlink(await which(tool), path.join(bin, tool));
	return bin;
}

const kit = (repo: string, args: string[], bin: string) =>
	execa('sh', [path.join(repo, 'restore.sh'), ...args], {reject: false, env: {PATH: bin, LANG: 'C'}, extendEnv: false});

describe('the restore kit: a point restored with nothing but sh, qemu-img and sha256sum', () => {
	async function twoDiskChain() {
		const lab = await labWithVm('vm1', ['vda', 'vdb'], 32);
		const repo = path.join(await tempDir(), 'repo');
		const run = (args: string[], env: Record<string, string> = {}) =>
			snapdeck([...args, '--connect', `local:${lab.root}`, '--repo', repo], env);
		await lab.write(0x11, 1);
		await lab.write(0x12, 2, 'vdb');
		expect((await run(['backup', 'vm1'])).exitCode).toBe(0);
		await lab.write(0x21, 3);
		await lab.write(0x22, 4, 'vdb');
		const second = await run(['backup', 'vm1', '--json']);
		expect(second.exitCode, second.stderr).toBe(0);
		const point = jsonLines(second).at(-1)!['point'] as {id: string; kind: string; parent: string};
		expect(point.kind).toBe('incremental');
		return {lab, repo, run, point};
	}

	it("a repository copied elsewhere restores a two-disk incremental point, without Node or libvirt on PATH, identical to snapdeck's restore", async () => {
		const {repo, run, point} = await twoDiskChain();
		// A folder name with a backslash: sha256sum would escape the hash of such a path given as an argument.
		const copy = path.join(await tempDir(), 'copied\\repo');
		await cp(repo, copy, {recursive: true});
		const bin = await barePath();
		const dest = path.join(await tempDir(), 'kit-out');
		const restored = await kit(copy, ['vm1', point.id, dest], bin);
		expect(restored.exitCode, restored.stderr).toBe(0);
		expect(restored.stdout).toContain(`done: point ${point.id} of vm1`);
		const ours = path.join(await tempDir(), 'snapdeck-out');
		expect((await run(['restore', 'vm1', '--point', point.id, '--to', ours])).exitCode).toBe(0);
		for (const disk of ['vda', 'vdb'])
			expect(await qemuImg.same(path.join(dest, `${disk}.qcow2`), path.join(ours, `${disk}.qcow2`)), disk).toBe(true);
		expect(await qemuIo.holds(path.join(dest, 'vda.qcow2'), 0x21, 3 * MiB, MiB)).toBe(true);
		// Whole images, and the VM as it was recorded beside them.
		expect((await execa('qemu-img', ['info', '--output=json', path.join(dest, 'vdb.qcow2')])).stdout).not.toContain(
			'backing-filename',
		);
		expect(JSON.parse(await readFile(path.join(dest, `${point.id}.definition.json`), 'utf8'))).toMatchObject({
			name: 'vm1',
		});
		expect(await readFile(path.join(copy, 'RESTORE.md'), 'utf8')).toContain('sh restore.sh VM POINT DEST');
	});

	it('refuses a flipped byte in the full underneath, a header that backs onto another file, and an index format it does not know', async () => {
		const {repo, point} = await twoDiskChain();
		const bin = await barePath();
		const full = path.join(repo, 'vm1', 'vda', `${point.parent}.qcow2`);
		const bytes = await readFile(full);
		bytes[bytes.length - 100] = bytes[bytes.length - 100]! ^ 0xff;
		await writeFile(full, bytes);
		const flipped = await kit(repo, ['vm1', point.id, path.join(await tempDir(), 'out')], bin);
		expect(flipped.exitCode).toBe(1);
		expect(flipped.stderr).toContain(`vda/${point.parent}.qcow2 does not match its checksum`);
		bytes[bytes.length - 100] = bytes[bytes.length - 100]! ^ 0xff;
		await writeFile(full, bytes);

		// A header made to back onto another file, its checksum in the index changed to match: refused on the header.
		const top = path.join(repo, 'vm1', 'vdb', `${point.id}.qcow2`);
		const elsewhere = path.join(await tempDir(), 'other.qcow2');
		await qemuImg.create(elsewhere, {size: 32 * MiB});
		await execa('qemu-img', ['rebase', '-u', '-f', 'qcow2', '-F', 'qcow2', '-b', elsewhere, top]);
		const index = path.join(repo, 'vm1', 'kit', `${point.id}.txt`);
		const newSum = (await execa('sha256sum', [top])).stdout.split(' ')[0]!;
		const text = await readFile(index, 'utf8');
		await writeFile(
			index,
			text.replace(new RegExp(`^(file vdb/${point.id}\\.qcow2 )[0-9a-f]{64}`, 'm'), `$1${newSum}`),
		);
		const rebased = await kit(repo, ['vm1', point.id, path.join(await tempDir(), 'out')], bin);
		expect(rebased.exitCode).toBe(1);
		expect(rebased.stderr).toContain(
			`is backed by "${elsewhere}" in its header, not by '${point.parent}.qcow2' as recorded`,
		);

		await writeFile(index, text.replace('snapdeck-kit 1', 'snapdeck-kit 2'));
		const future = await kit(repo, ['vm1', point.id, path.join(await tempDir(), 'out')], bin);
		expect(future.exitCode).toBe(1);
		expect(future.stderr).toContain("is of format 'snapdeck-kit 2'");
		await writeFile(index, text);

		// A repository of a format the kit does not know (or not all of it copied): refused before anything is read.
		await writeFile(path.join(repo, 'FORMAT'), 'snapdeck-repository 2\n');
		const newer = await kit(repo, ['vm1', point.id, path.join(await tempDir(), 'out')], bin);
		expect(newer.exitCode).toBe(1);
		expect(newer.stderr).toContain("FORMAT says 'snapdeck-repository 2'; this kit reads 'snapdeck-repository 1' only");
		await rm(path.join(repo, 'FORMAT'));
		expect((await kit(repo, ['vm1', point.id, path.join(await tempDir(), 'out')], bin)).stderr).toContain(
			'FORMAT is missing',
		);
	});

	it('an off-site copy carries the kit: restic restore, then sh restore.sh, restores the point', async () => {
		const {repo, run, point} = await twoDiskChain();
		const pw = path.join(await tempDir(), 'pw');
		await writeFile(pw, 'kit test\n', {mode: 0o600});
		const target = path.join(await tempDir(), 'restic');
		expect((await run(['verify', 'vm1', '--point', point.id, '--restore-test'])).exitCode).toBe(0);
		expect((await run(['copy', 'vm1', '--target', target], {RESTIC_PASSWORD_FILE: pw})).exitCode).toBe(0);
		const fetched = path.join(await tempDir(), 'fetched');
		await execa('restic', ['-r', target, 'restore', 'latest', '--target', fetched], {env: {RESTIC_PASSWORD_FILE: pw}});
		// The point's receipt travelled with it.
		expect((await readdir(path.join(fetched, 'receipts'))).filter(name => name.includes(point.id))).toHaveLength(1);
		const dest = path.join(await tempDir(), 'from-restic');
		const restored = await kit(fetched, ['vm1', point.id, dest], await barePath());
		expect(restored.exitCode, restored.stderr).toBe(0);
		expect(await qemuImg.same(path.join(dest, 'vda.qcow2'), path.join(repo, 'vm1', 'vda', `${point.id}.qcow2`))).toBe(
			true,
		);
	});

	it("restores a libvirt domain's incremental point (push mode, rebased onto the full) the same way", async () => {
		const domain = await libvirtDomain({sizeMiB: 32});
		await domain.guestWrite(0x71, 1);
		const repo = path.join(await tempDir(), 'repo');
		const run = (args: string[]) => snapdeck([...args, '--connect', URI, '--repo', repo]);
		expect((await run(['backup', domain.name])).exitCode).toBe(0);
		await domain.guestWrite(0x72, 2);
		const second = await run(['backup', domain.name, '--json']);
		expect(second.exitCode, second.stderr).toBe(0);
		const point = jsonLines(second).at(-1)!['point'] as {id: string; kind: string};
		expect(point.kind).toBe('incremental');
		const dest = path.join(await tempDir(), 'out');
		const restored = await kit(repo, [domain.name, point.id, dest], await barePath());
		expect(restored.exitCode, restored.stderr).toBe(0);
		expect([
			await qemuIo.holds(path.join(dest, 'vda.qcow2'), 0x71, MiB, MiB),
			await qemuIo.holds(path.join(dest, 'vda.qcow2'), 0x72, 2 * MiB, MiB),
		]).toEqual([true, true]);
		expect(await readFile(path.join(dest, `${point.id}.definition.xml`), 'utf8')).toContain(
			`<name>${domain.name}</name>`,
		);
	});
});
