import {mkdir, open, readFile, rm, stat, utimes, writeFile} from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import {execa} from 'execa';
import {afterEach, describe, expect, it} from 'vitest';
import {jsonOf, snapdeck} from '../helpers/cli.js';
import {labWithVm, tempDir} from '../helpers/lab.js';

/** A lab VM, a repository and a config folder, with `health` run through the real binary. */
async function healthLab(config: object = {}) {
	const lab = await labWithVm('vm1', ['vda'], 64);
	const repo = path.join(await tempDir(), 'repo');
	const configDir = await tempDir();
	await writeFile(path.join(configDir, 'config.json'), JSON.stringify(config));
	const env = {
		SNAPDECK_CONNECT: `local:${lab.root}`,
		SNAPDECK_REPO: repo,
		SNAPDECK_CONFIG_DIR: configDir,
		SNAPDECK_CHECK_CACHE: path.join(configDir, 'image-checks.json'),
	};
	const run = (...args: string[]) => snapdeck(args, env);
	const health = async (...args: string[]) => {
		const result = await run('health', '--json', ...args);
		const json = jsonOf(result) as {
			status: string;
			findings: Array<{rule: string; severity: string; message: string; fix?: string}>;
		};
		return {
			exitCode: result.exitCode,
			status: json.status,
			findings: json.findings,
			rules: json.findings.map(finding => `${finding.rule}:${finding.severity}`).sort(),
		};
	};
	return {lab, repo, run, health, checkCache: env.SNAPDECK_CHECK_CACHE};
}

const inDays = (days: number) => new Date(Date.now() + days * 86_400_000).toISOString();

/*
 * Health on real images and a real repository: what the adapters and the repository must find.
 * The rules' thresholds, exit codes and words on a command line or config that is wrong are
 * test/cli/health-rules.test.ts's (in-process, on the in-memory hypervisor).
 */
describe('snapdeck health on a real lab, one hazard at a time', () => {
	it('all well: a fresh, verified backup and a short chain is exit 0', async () => {
		const {run, health} = await healthLab();
		await run('backup', 'vm1');
		await run('verify', 'vm1');
		expect(await health()).toMatchObject({exitCode: 0, status: 'ok', rules: []});
		expect((await run('health')).stdout).toMatch(/: ok: 1 VM, 1 ok, 0 with warnings, 0 critical$/);
	});

	it('a backup ages past the RPO (--now): a warning, then critical at twice the RPO', async () => {
		const {run, health} = await healthLab({policies: [{name: 'prod', backups: {rpo: '26h', verifyEvery: '30d'}}]});
		await run('backup', 'vm1');
		await run('verify', 'vm1');
		expect((await health('--now', inDays(1))).rules).toEqual([]);
		expect((await health('--now', inDays(1.5))).rules).toEqual(['backup-age:warning']);
		expect(await health('--now', inDays(3))).toMatchObject({exitCode: 2, rules: ['backup-age:critical']});
		expect((await health('--now', inDays(31))).rules).toEqual(['backup-age:critical', 'verify-age:warning']);
	});

	it("a snapshot's overlay carries the backup's dirty bitmap on: no finding after a take", async () => {
		// The depth thresholds themselves are test/cli/health-rules.test.ts's (in-process, in memory).
		const {lab, run, health} = await healthLab({policies: [{name: 'p', maxChainDepth: 2}]});
		await run('backup', 'vm1');
		await run('verify', 'vm1');
		await lab.take('s1');
		expect((await health()).rules).toEqual([]);
	});

	it('a revert since the last backup: the next backup will be a full, and health says so', async () => {
		const {lab, run, health} = await healthLab();
		await lab.take('s1');
		await run('backup', 'vm1');
		await run('verify', 'vm1');
		await lab.revert('s1');
		const result = await health();
		expect(result.rules).toEqual(['bitmap-missing:warning']);
		expect(result.findings[0]!.message).toMatch(
			/vda of vm1 no longer carries the dirty bitmap of backup \S+ .*: the next backup will be a full/,
		);
	});

	it('an internal snapshot no metadata names (left by another tool or an old merge) is a warning', async () => {
		const {lab, run, health} = await healthLab();
		await run('backup', 'vm1');
		await run('verify', 'vm1');
		await execa('qemu-img', ['snapshot', '-c', 'stray', path.join(lab.folder, 'vda.qcow2')]);
		const result = await health();
		expect(result.rules).toEqual(['orphaned-internal-snapshot:warning']);
		expect(result.findings[0]!.message).toContain(
			"vda.qcow2 holds an internal snapshot 'stray' that no snapshot of vm1 names",
		);
	});

	it('a deleted backing file is critical', async () => {
		const {lab, health} = await healthLab();
		await lab.take('s1');
		await rm(path.join(lab.folder, 'vda.qcow2'));
		const result = await health();
		expect(result.exitCode).toBe(2);
		expect(result.rules).toContain('broken-chain:critical');
	});

	it('an image that fails qemu-img check is critical, also when it checked clean before and its modification time is set back', async () => {
		const {lab, health, checkCache} = await healthLab();
		await lab.write(0x11, 1);
		const image = path.join(lab.folder, 'vda.qcow2');
		// A whole second, which utimes can set back exactly.
		await utimes(image, 1_700_000_000, 1_700_000_000);
		// Checked clean once: the verdict is kept for as long as the image does not change.
		expect((await health()).rules).not.toContain('image-corrupt:critical');
		expect(Object.keys(JSON.parse(await readFile(checkCache, 'utf8')) as object)).toContain(image);
		// Zero the refcounts of the data clusters: qemu-img check then counts corruptions.
		const handle = await open(image, 'r+');
		const header = Buffer.alloc(64);
		await handle.read(header, 0, 64, 0);
		const table = Number(header.readBigUInt64BE(48));
		const entry = Buffer.alloc(8);
		await handle.read(entry, 0, 8, table);
		await handle.write(Buffer.alloc(40), 0, 40, Number(entry.readBigUInt64BE(0)) + 8);
		await handle.close();
		// As a tool covering its tracks would: the modification time as it was (the change time moves anyway).
		await utimes(image, 1_700_000_000, 1_700_000_000);
		expect((await stat(image, {bigint: true})).mtimeNs).toBe(1_700_000_000_000_000_000n);
		const result = await health();
		expect(result.rules).toContain('image-corrupt:critical');
		expect(result.findings.find(finding => finding.rule === 'image-corrupt')!.message).toMatch(
			/vda\.qcow2 fails qemu-img check \(\d+ corruptions/,
		);
	});

	it('an operation a crash left unfinished is critical until recovered', async () => {
		const {lab, run, health} = await healthLab();
		await lab.take('s1');
		await lab.take('s2');
		const crashed = await snapdeck(['merge', 'vm1', 's1', '--yes', '--connect', `local:${lab.root}`], {
			SNAPDECK_CRASH_AT: 'after:1',
		});
		expect(crashed.signal).toBe('SIGKILL');
		const result = await health();
		expect(result.rules).toContain('unfinished-operation:critical');
		expect(result.findings.find(finding => finding.rule === 'unfinished-operation')).toMatchObject({fix: 'recover'});
		await run('recover', 'vm1');
		expect((await health()).rules).not.toContain('unfinished-operation:critical');
	});

	it('a point that fails verification is critical', async () => {
		const {lab, repo, run, health} = await healthLab();
		await lab.write(0x21, 1);
		await run('backup', 'vm1');
		const manifest = JSON.parse(await readFile(path.join(repo, 'vm1', 'manifest.json'), 'utf8')) as {
			points: Array<{files: Array<{file: string}>}>;
		};
		const handle = await open(path.join(repo, 'vm1', manifest.points[0]!.files[0]!.file), 'r+');
		await handle.write(Buffer.from([0x42]), 0, 1, 1024 * 1024 + 7);
		await handle.close();
		await run('verify', 'vm1');
		expect((await health()).rules).toEqual(['verify-failed:critical']);
	});
});

const mounts: string[] = [];
afterEach(async () => {
	for (const mount of mounts.splice(0)) await execa('umount', [mount], {reject: false});
});

describe.runIf(os.userInfo().uid === 0)('a nearly full repository filesystem', () => {
	it('is a warning when the next full backup would not fit, critical when far from it', async () => {
		const {lab, repo, run, health} = await healthLab();
		await mkdir(repo, {recursive: true});
		await execa('mount', ['-t', 'tmpfs', '-o', 'size=16m', 'tmpfs', repo]);
		mounts.push(repo);
		for (let mib = 0; mib < 4; mib++) await lab.write(0x31, mib);
		// Plain clusters: the sizes below count on a point of about 4 MiB.
		await run('backup', 'vm1', '--no-compress');
		await run('verify', 'vm1');
		expect((await health()).rules).toEqual([]);
		await execa('fallocate', ['-l', '8M', path.join(repo, 'filler')]); // 16 MiB: a ~4.3 MiB point, the repository's 1 MiB reserve, this
		expect((await health()).rules).toEqual(['repository-space:warning']);
		await execa('fallocate', ['-l', '2M', path.join(repo, 'filler2')]);
		expect((await health()).rules).toEqual(['repository-space:critical']);
	});
});
