import {open, readdir, readFile, rm, writeFile} from 'node:fs/promises';
import path from 'node:path';
import {execa} from 'execa';
import {describe, expect, it} from 'vitest';
import {jsonLines, jsonOf, snapdeck, type CliResult} from '../helpers/cli.js';
import {labWithVm, MiB, tempDir} from '../helpers/lab.js';
import {libvirtDomain, URI, virsh} from '../helpers/libvirt.js';
import {runningLab} from '../helpers/live.js';

/** Writes `bytes` straight into the image file where the guest's byte `guestOffset` is stored: past QEMU, so past every dirty bitmap. */
async function writeBehindTheBitmap(image: string, guestOffset: number, bytes: Buffer) {
	// -U: a running VM's QEMU holds the image (its data clusters are where the last flush put them).
	const {stdout} = await execa('qemu-img', ['map', '-U', '--output=json', image]);
	const extent = (JSON.parse(stdout) as Array<{start: number; length: number; data: boolean; offset?: number}>).find(
		candidate => candidate.data && candidate.start <= guestOffset && guestOffset < candidate.start + candidate.length,
	)!;
	const handle = await open(image, 'r+');
	await handle.write(bytes, 0, bytes.length, extent.offset! + guestOffset - extent.start);
	await handle.close();
}

const pointOf = (result: CliResult) =>
	jsonLines(result).at(-1)!['point'] as {
		id: string;
		kind: string;
		audit: {
			ok: boolean;
			disks: Array<{disk: string; ok: boolean; ranges: Array<{start: number; length: number}>}>;
		} | null;
	};
const rules = async (run: (args: string[]) => Promise<CliResult>) =>
	(jsonOf(await run(['health', 'vm1', '--json']))['findings'] as Array<{rule: string; severity: string}>).map(
		finding => `${finding.rule}:${finding.severity}`,
	);

describe("backup --audit: each disk at the backup's instant, against what the point restores", () => {
	it("passes on a sound chain; fails, naming the disk and the range, after bytes were written behind the bitmap's back; health is critical until an audit passes", async () => {
		const lab = await labWithVm('vm1', ['vda', 'vdb'], 192);
		const repo = path.join(await tempDir(), 'repo');
		const run = (args: string[]) => snapdeck([...args, '--connect', `local:${lab.root}`, '--repo', repo]);
		await lab.write(0x11, 70);
		await lab.write(0x12, 1, 'vdb');
		expect((await run(['backup', 'vm1'])).exitCode).toBe(0);
		await lab.write(0x21, 2);
		const sound = await run(['backup', 'vm1', '--audit', '--json']);
		expect(sound.exitCode, sound.stderr).toBe(0);
		expect(pointOf(sound)).toMatchObject({
			kind: 'incremental',
			audit: {
				ok: true,
				disks: [
					{disk: 'vda', ok: true},
					{disk: 'vdb', ok: true},
				],
			},
		});
		// A passing audit is a restore proved: a signed receipt says so.
		expect(
			(
				jsonOf(await run(['receipts', 'vm1', '--json']))['receipts'] as Array<{
					receipt: {proved: string; point: string};
				}>
			).map(entry => [entry.receipt.proved, entry.receipt.point]),
		).toEqual([['audit', pointOf(sound).id]]);

		// A write no bitmap saw: the incremental misses it, the audit does not.
		await writeBehindTheBitmap(await lab.activeFile(), 70 * MiB + 4096, Buffer.from('written behind the bitmap'));
		await lab.write(0x31, 3, 'vdb');
		const missed = await run(['backup', 'vm1', '--audit', '--json']);
		expect(missed.exitCode).toBe(1);
		expect(jsonOf({...missed, stdout: missed.stdout.trim().split('\n').at(-1)!})['error']).toMatchObject({
			code: 'damaged',
			message: expect.stringContaining('vda: 64.0 MiB at 64.0 MiB'),
		});
		const manifest = JSON.parse(await readFile(path.join(repo, 'vm1', 'manifest.json'), 'utf8')) as {
			points: Array<{
				kind: string;
				audit: {
					ok: boolean;
					disks: Array<{disk: string; ok: boolean; ranges: Array<{start: number; length: number}>}>;
				} | null;
			}>;
		};
		const failed = manifest.points.at(-1)!;
		expect(failed.audit).toMatchObject({
			ok: false,
			disks: [
				{disk: 'vda', ok: false, ranges: [{start: 64 * MiB, length: 64 * MiB}]},
				{disk: 'vdb', ok: true, ranges: []},
			],
		});
		expect(await rules(run)).toContain('audit-failed:critical');

		// The next backup is a full, saying why; an audit of it clears the finding.
		const full = await run(['backup', 'vm1', '--audit', '--json']);
		expect(full.exitCode, full.stderr).toBe(0);
		expect(jsonLines(full)[0]).toMatchObject({
			type: 'decision',
			kind: 'full',
			reason: expect.stringContaining('found writes its dirty bitmap had missed (vda)'),
		});
		expect(pointOf(full).audit?.ok).toBe(true);
		expect(await rules(run)).not.toContain('audit-failed:critical');

		// A receipt that cannot be written is said; the audit stands.
		await rm(path.join(repo, 'vm1', 'receipts'), {recursive: true});
		await writeFile(path.join(repo, 'vm1', 'receipts'), 'not a folder');
		const unsigned = await run(['backup', 'vm1', '--audit']);
		expect(unsigned.exitCode, unsigned.stderr).toBe(0);
		expect(unsigned.stderr).toContain('snapdeck: warning: the audit passed, and no receipt was written');
	});

	it('a running VM is audited at the instant of its backup (its QEMU keeps that instant for the audit), and leaves nothing in it', async () => {
		const lab = await runningLab('vm1', ['vda'], 64);
		const repo = path.join(await tempDir(), 'repo');
		const run = (args: string[]) => snapdeck([...args, '--connect', `local:${lab.root}`, '--repo', repo]);
		await lab.guestWrite(0x41, 1);
		expect((await run(['backup', 'vm1'])).exitCode).toBe(0);
		await lab.guestWrite(0x42, 2);
		const audited = await run(['backup', 'vm1', '--audit', '--json']);
		expect(audited.exitCode, audited.stderr).toBe(0);
		expect(pointOf(audited).audit?.ok).toBe(true);
		const client = await lab.qmp();
		try {
			const nodes = await client.execute<Array<{'node-name': string}>>('query-named-block-nodes', {flat: true});
			expect(nodes.map(node => node['node-name']).filter(name => name.startsWith('snapdeck-'))).toEqual([]);
			expect(await client.execute('query-block-exports')).toEqual([]);
			expect(await client.execute('query-jobs')).toEqual([]);
		} finally {
			client.close();
		}
	});

	it("a running libvirt domain is audited at the instant of its backup (libvirt's pull-mode export, kept until the audit ends): passes on a sound chain, fails after bytes were written behind QEMU's back, health critical until an audit passes; no job, socket or scratch file left", async () => {
		const domain = await libvirtDomain({sizeMiB: 192});
		const repo = path.join(await tempDir(), 'repo');
		// The pull jobs' socket folders go into a temp directory of this test's.
		const tmp = await tempDir();
		const run = (args: string[]) => snapdeck([...args, '--connect', URI, '--repo', repo], {TMPDIR: tmp});
		const leftovers = async () => ({
			job: (await virsh('domjobinfo', '--domain', domain.name)).stdout.includes('None'),
			sockets: (await readdir(tmp)).filter(name => name.startsWith('snapdeck-nbd-')),
			scratch: (await readdir(path.join(repo, domain.name, 'vda'))).filter(name => name.includes('scratch')),
		});
		await domain.guestWrite(0x11, 70);
		expect((await run(['backup', domain.name])).exitCode).toBe(0);
		await domain.guestWrite(0x21, 2);
		const sound = await run(['backup', domain.name, '--audit', '--json']);
		expect(sound.exitCode, sound.stderr).toBe(0);
		expect(pointOf(sound)).toMatchObject({kind: 'incremental', audit: {ok: true, disks: [{disk: 'vda', ok: true}]}});
		expect(
			(
				jsonOf(await run(['receipts', domain.name, '--json']))['receipts'] as Array<{
					receipt: {proved: string; point: string};
				}>
			).map(entry => [entry.receipt.proved, entry.receipt.point]),
		).toEqual([['audit', pointOf(sound).id]]);
		expect(await leftovers()).toEqual({job: true, sockets: [], scratch: []});
		// The incremental holds what its bitmap marked (the ranges read from the export), not the disk.
		const {stdout: map} = await execa('qemu-img', [
			'map',
			'--output=json',
			path.join(repo, domain.name, 'vda', `${pointOf(sound).id}.qcow2`),
		]);
		expect(
			(JSON.parse(map) as Array<{depth: number; data: boolean; length: number}>)
				.filter(extent => extent.depth === 0 && extent.data)
				.reduce((sum, extent) => sum + extent.length, 0),
		).toBe(1 * MiB);

		// The guest writing on through the backup and its audit: the audit reads the disks as they were at the backup's instant.
		let writing = true;
		const writes = (async () => {
			for (let mib = 100; writing; mib = mib === 180 ? 100 : mib + 1) await domain.guestWrite(0x25, mib);
		})();
		const busy = await run(['backup', domain.name, '--audit', '--json']).finally(() => (writing = false));
		await writes;
		expect(busy.exitCode, busy.stderr).toBe(0);
		expect(pointOf(busy).audit?.ok).toBe(true);

		// Bytes written into a data cluster of the active image, past QEMU and so past its dirty bitmap.
		await writeBehindTheBitmap(await domain.activeFile(), 70 * MiB + 4096, Buffer.from('written behind the bitmap'));
		await domain.guestWrite(0x31, 3);
		const missed = await run(['backup', domain.name, '--audit', '--incremental', '--json']);
		expect(missed.exitCode).toBe(1);
		expect(jsonOf({...missed, stdout: missed.stdout.trim().split('\n').at(-1)!})['error']).toMatchObject({
			code: 'damaged',
			message: expect.stringContaining('vda: 64.0 MiB at 64.0 MiB'),
		});
		const points = jsonOf(await run(['backups', domain.name, '--json']))['points'] as Array<{
			kind: string;
			audit: {ok: boolean; disks: Array<{disk: string; ok: boolean; ranges: unknown[]}>} | null;
		}>;
		expect(points.at(-1)).toMatchObject({
			kind: 'incremental',
			audit: {ok: false, disks: [{disk: 'vda', ok: false, ranges: [{start: 64 * MiB, length: 64 * MiB}]}]},
		});
		const health = async () =>
			(jsonOf(await run(['health', domain.name, '--json']))['findings'] as Array<{rule: string; severity: string}>).map(
				finding => `${finding.rule}:${finding.severity}`,
			);
		expect(await health()).toContain('audit-failed:critical');
		expect(await leftovers()).toEqual({job: true, sockets: [], scratch: []});

		// The next backup is a full, saying why; its audit passes and clears the finding.
		const full = await run(['backup', domain.name, '--audit', '--json']);
		expect(full.exitCode, full.stderr).toBe(0);
		expect(jsonLines(full)[0]).toMatchObject({
			type: 'decision',
			kind: 'full',
			reason: expect.stringContaining('found writes its dirty bitmap had missed (vda)'),
		});
		expect(pointOf(full).audit?.ok).toBe(true);
		expect(await health()).not.toContain('audit-failed:critical');
		expect(await leftovers()).toEqual({job: true, sockets: [], scratch: []});
	});
});

describe("a policy's audits", () => {
	it('snapdeck run audits the backup it takes when an audit is due; health warns when none passed within "every"', async () => {
		const lab = await labWithVm('vm1', ['vda'], 32);
		const repo = path.join(await tempDir(), 'repo');
		const config = await tempDir();
		await writeFile(
			path.join(config, 'config.json'),
			JSON.stringify({policies: [{name: 'audited', backups: {schedule: '0 2 * * *'}, audit: {every: '7d'}}]}),
		);
		const env = {SNAPDECK_CONFIG_DIR: config};
		const run = (args: string[]) => snapdeck([...args, '--connect', `local:${lab.root}`, '--repo', repo], env);
		await lab.write(0x51, 1);
		expect((await run(['backup', 'vm1'])).exitCode).toBe(0);
		const before = (jsonOf(await run(['health', 'vm1', '--json']))['findings'] as Array<{rule: string}>).map(
			finding => finding.rule,
		);
		expect(before).toContain('audit-age');
		await lab.write(0x52, 2);
		const ran = await run(['run', '--now', new Date(Date.now() + 86_400_000).toISOString()]);
		expect(ran.exitCode, ran.stdout + ran.stderr).toBe(0);
		const points = jsonOf(await run(['backups', 'vm1', '--json']))['points'] as Array<{audit: {ok: boolean} | null}>;
		expect(points.at(-1)!.audit).toMatchObject({ok: true});
		expect(
			(jsonOf(await run(['health', 'vm1', '--json']))['findings'] as Array<{rule: string}>).map(
				finding => finding.rule,
			),
		).not.toContain('audit-age');
		const later = new Date(Date.now() + 10 * 86_400_000).toISOString();
		expect(
			(jsonOf(await run(['health', 'vm1', '--json', '--now', later]))['findings'] as Array<{rule: string}>).map(
				finding => finding.rule,
			),
		).toContain('audit-age');
	});
});
