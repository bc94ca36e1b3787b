import {rm} from 'node:fs/promises';
import path from 'node:path';
import {describe, expect, it} from 'vitest';
import {jsonOf, snapdeck} from '../helpers/cli.js';
import {labWithVm, qemuImg, tempDir} from '../helpers/lab.js';
import {libvirtDomain, URI, virsh} from '../helpers/libvirt.js';

const staleFindings = (health: Record<string, unknown>) =>
	(health['findings'] as Array<{rule: string; message: string}>).filter(finding => finding.rule === 'stale-checkpoint');

describe('bitmaps and checkpoints whose repository or point is gone', () => {
	it('a local VM: health reports the bitmap of a removed repository, and checkpoints --prune removes it (and only it)', async () => {
		const lab = await labWithVm();
		const connect = ['--connect', `local:${lab.root}`];
		const gone = path.join(await tempDir(), 'gone');
		const kept = path.join(await tempDir(), 'kept');
		await lab.write(0x11, 1);
		expect((await snapdeck(['backup', 'vm1', '--repo', gone, ...connect])).exitCode).toBe(0);
		expect((await snapdeck(['backup', 'vm1', '--repo', kept, ...connect])).exitCode).toBe(0);
		const bitmaps = async () =>
			((await qemuImg.info(await lab.activeFile()))['format-specific']?.data.bitmaps ?? []).map(bitmap => bitmap.name);
		expect(await bitmaps()).toHaveLength(2);
		// Both are in use while both repositories exist.
		expect(staleFindings(jsonOf(await snapdeck(['health', 'vm1', '--json', '--repo', kept, ...connect])))).toEqual([]);

		await rm(gone, {recursive: true});
		const health = jsonOf(await snapdeck(['health', 'vm1', '--json', '--repo', kept, ...connect]));
		expect(staleFindings(health)).toEqual([
			expect.objectContaining({message: expect.stringContaining(`its repository ${gone} is gone`)}),
		]);
		const listed = await snapdeck(['checkpoints', 'vm1', '--repo', kept, ...connect]);
		expect(listed.stdout).toMatch(/^stale +snapdeck\.[0-9a-f]{8}\.\S+ +its repository .* is gone$/m);
		expect(listed.stdout).toMatch(/^in use +snapdeck\./m);
		const pruned = jsonOf(await snapdeck(['checkpoints', 'vm1', '--prune', '--json', '--repo', kept, ...connect]));
		expect(pruned['removed']).toHaveLength(1);
		expect(await bitmaps()).toHaveLength(1);
		expect(staleFindings(jsonOf(await snapdeck(['health', 'vm1', '--json', '--repo', kept, ...connect])))).toEqual([]);
		// The next backup into the kept repository is still incremental.
		await lab.write(0x12, 2);
		expect((await snapdeck(['backup', 'vm1', '--repo', kept, ...connect])).stderr).toContain('incremental backup over');
	});

	it('a running libvirt domain: the checkpoint of a removed repository is a finding, and --prune deletes it through libvirt', async () => {
		const dom = await libvirtDomain();
		const connect = ['--connect', URI];
		const gone = path.join(await tempDir(), 'gone');
		const kept = path.join(await tempDir(), 'kept');
		await dom.guestWrite(0x21, 1);
		expect((await snapdeck(['backup', dom.name, '--repo', gone, ...connect])).exitCode).toBe(0);
		expect((await snapdeck(['backup', dom.name, '--repo', kept, ...connect])).exitCode).toBe(0);
		const checkpoints = async () =>
			(await virsh('checkpoint-list', '--domain', dom.name, '--name')).stdout
				.split('\n')
				.map(line => line.trim())
				.filter(Boolean);
		expect(await checkpoints()).toHaveLength(2);
		await rm(gone, {recursive: true});
		expect(
			staleFindings(jsonOf(await snapdeck(['health', dom.name, '--json', '--repo', kept, ...connect]))),
		).toHaveLength(1);
		const pruned = await snapdeck(['checkpoints', dom.name, '--prune', '--repo', kept, ...connect]);
		expect(pruned.exitCode, pruned.stderr).toBe(0);
		expect(pruned.stdout).toMatch(/^removed +snapdeck\./m);
		expect(await checkpoints()).toHaveLength(1);
		expect(staleFindings(jsonOf(await snapdeck(['health', dom.name, '--json', '--repo', kept, ...connect])))).toEqual(
			[],
		);
	});
});
