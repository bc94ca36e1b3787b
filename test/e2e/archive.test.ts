import {readFile, rm, writeFile} from 'node:fs/promises';
import path from 'node:path';
import {describe, expect, it} from 'vitest';
import {buildDemoLab} from '../../source/service/demo-lab.js';
import {jsonLines, jsonOf, snapdeck} from '../helpers/cli.js';
import {MiB, qemuImg, qemuIo, tempDir} from '../helpers/lab.js';

const REGION = 4 * MiB;

/** What each snapshot of the demo lab's web1 holds, region by region (see source/service/demo-lab.ts). */
const WEB1: Record<string, Array<[region: number, pattern: number]>> = {
	installed: [
		[0, 0x11],
		[1, 0],
	],
	configured: [
		[0, 0x11],
		[1, 0x22],
		[2, 0],
	],
	'pre-upgrade': [
		[0, 0x11],
		[1, 0x22],
		[2, 0x33],
		[3, 0],
	],
	hotfix: [
		[0, 0x11],
		[1, 0x22],
		[2, 0],
		[3, 0x55],
		[4, 0],
	],
};

async function activeFile(lab: string, vm: string, disk = 'vda'): Promise<string> {
	const definition = JSON.parse(await readFile(path.join(lab, vm, 'vm.json'), 'utf8')) as {
		disks: Array<{target: string; file: string}>;
	};
	return path.join(lab, vm, definition.disks.find(candidate => candidate.target === disk)!.file);
}

describe('whole-VM archives (backup --with-snapshots)', () => {
	it("archives the demo lab's web1 with its snapshots, restores it as a new VM (from the repository and from an off-site copy), and every snapshot of the new VM reverts to its own data", async () => {
		const work = await tempDir();
		const lab = path.join(work, 'lab');
		await buildDemoLab(lab);
		const password = path.join(work, 'password');
		await writeFile(password, 'pw\n');
		const repo = path.join(work, 'repo');
		const env = {
			SNAPDECK_CONNECT: `local:${lab}`,
			SNAPDECK_REPO: repo,
			SNAPDECK_CONFIG_DIR: path.join(work, 'config'),
			RESTIC_PASSWORD_FILE: password,
		};
		const run = async (...args: string[]) => {
			const result = await snapdeck(args, env);
			expect(result.exitCode, `${args.join(' ')}: ${result.stderr}`).toBe(0);
			return result;
		};

		const backup = jsonLines(await run('backup', 'web1', '--with-snapshots', '--json')).at(-1)!['point'] as {
			id: string;
			archive: Array<{name: string; backing: string | null}>;
		};
		// All five images of the tree, each with its backing file by name.
		expect(backup.archive.map(image => [image.name, image.backing]).sort()).toEqual([
			['vda.configured-2.qcow2', 'vda.installed.qcow2'],
			['vda.configured.qcow2', 'vda.installed.qcow2'],
			['vda.hotfix.qcow2', 'vda.configured-2.qcow2'],
			['vda.installed.qcow2', 'vda.qcow2'],
			['vda.qcow2', null],
		]);
		expect((await run('verify', 'web1')).stdout).toBe(`ok      ${backup.id}`);
		const target = path.join(work, 'offsite');
		await run('copy', 'web1', '--target', target);

		await run('restore', 'web1', '--point', backup.id, '--as', 'web1-local');
		// The local repository gone: the off-site copy alone brings the VM back, snapshots and all.
		await rm(repo, {recursive: true, force: true});
		await run('restore', 'web1', '--from', target, '--point', backup.id, '--as', 'web1-offsite');

		for (const copy of ['web1-local', 'web1-offsite']) {
			const tree = jsonOf(await run('tree', copy, '--json')) as {current: string; snapshots: Array<{name: string}>};
			expect(tree.current).toBe('hotfix');
			expect(tree.snapshots.map(snapshot => snapshot.name).sort()).toEqual(Object.keys(WEB1).sort());
			// The present state first: what was written after the last snapshot.
			expect(await qemuIo.holds(await activeFile(lab, copy), 0x66, 4 * REGION, REGION)).toBe(true);
			for (const [snapshot, regions] of Object.entries(WEB1)) {
				await run('revert', copy, snapshot, '--yes');
				const active = await activeFile(lab, copy);
				for (const [region, pattern] of regions)
					expect(
						await qemuIo.holds(active, pattern, region * REGION, REGION),
						`${copy} at ${snapshot}: region ${region}`,
					).toBe(true);
			}
		}
		// The original was not touched by any of it.
		expect(await qemuIo.holds(await activeFile(lab, 'web1'), 0x66, 4 * REGION, REGION)).toBe(true);
	}, 180_000);

	it('app1 (an external snapshot and an internal one on top, two disks): the internal snapshot survives the archive', async () => {
		const work = await tempDir();
		const lab = path.join(work, 'lab');
		await buildDemoLab(lab);
		const env = {
			SNAPDECK_CONNECT: `local:${lab}`,
			SNAPDECK_REPO: path.join(work, 'repo'),
			SNAPDECK_CONFIG_DIR: path.join(work, 'config'),
		};
		const run = async (...args: string[]) => {
			const result = await snapdeck(args, env);
			expect(result.exitCode, `${args.join(' ')}: ${result.stderr}`).toBe(0);
			return result;
		};
		const backup = jsonLines(await run('backup', 'app1', '--with-snapshots', '--json')).at(-1)!['point'] as {
			id: string;
		};
		await run('restore', 'app1', '--point', backup.id, '--as', 'app1-copy');
		for (const snapshot of ['migrated', 'before-migration']) {
			// The oracle: the original reverted the same way.
			await run('revert', 'app1', snapshot, '--yes');
			await run('revert', 'app1-copy', snapshot, '--yes');
			for (const disk of ['vda', 'vdb'])
				expect(
					await qemuImg.same(await activeFile(lab, 'app1-copy', disk), await activeFile(lab, 'app1', disk)),
					`${snapshot} ${disk}`,
				).toBe(true);
		}
		expect(await qemuIo.holds(await activeFile(lab, 'app1-copy', 'vda'), 0xb1, 0, REGION)).toBe(true);
		expect(await qemuIo.holds(await activeFile(lab, 'app1-copy', 'vda'), 0, REGION, REGION)).toBe(true);
		// Rolling an image back to an internal snapshot drops its backup bitmap (QEMU refuses otherwise): the next backup is a full.
		const next = jsonLines(await run('backup', 'app1', '--json'));
		expect(next[0]).toMatchObject({type: 'decision', kind: 'full'});
	}, 120_000);

	it('a running VM is refused with what to do, and nothing is written', async () => {
		const work = await tempDir();
		const lab = path.join(work, 'lab');
		await buildDemoLab(lab);
		// A QMP socket that answers is what makes a local VM running; web1's vm.json names none, so use a fake listener.
		const net = await import('node:net');
		const socket = path.join(lab, 'web1', 'qmp.sock');
		const server = net
			.createServer(connection => {
				connection.on('error', () => undefined);
				connection.end('{"QMP": {}}\n');
			})
			.listen(socket);
		try {
			const definition = JSON.parse(await readFile(path.join(lab, 'web1', 'vm.json'), 'utf8')) as Record<
				string,
				unknown
			>;
			await writeFile(path.join(lab, 'web1', 'vm.json'), JSON.stringify({...definition, qmp: 'qmp.sock'}));
			const result = await snapdeck(['backup', 'web1', '--with-snapshots'], {
				SNAPDECK_CONNECT: `local:${lab}`,
				SNAPDECK_REPO: path.join(work, 'repo'),
				SNAPDECK_CONFIG_DIR: path.join(work, 'config'),
			});
			expect(result.exitCode).toBe(1);
			expect(result.stderr).toContain(
				'web1 is running: a whole-VM archive copies its image files as they are, so it must be stopped',
			);
			expect(result.stderr).toContain("stop it ('snapdeck stop web1')");
			const points = await snapdeck(['backups', 'web1', '--json'], {
				SNAPDECK_CONNECT: `local:${lab}`,
				SNAPDECK_REPO: path.join(work, 'repo'),
				SNAPDECK_CONFIG_DIR: path.join(work, 'config'),
			});
			expect(jsonOf(points)['points']).toEqual([]);
		} finally {
			server.close();
		}
	});
});
