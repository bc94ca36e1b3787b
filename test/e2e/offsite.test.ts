import {spawn, type ChildProcess} from 'node:child_process';
import {chmod, mkdir, readdir, rm, stat, writeFile} from 'node:fs/promises';
import path from 'node:path';
import {execa} from 'execa';
import os from 'node:os';
import {afterAll, afterEach, beforeAll, describe, expect, it} from 'vitest';
import {jsonLines, jsonOf, snapdeck} from '../helpers/cli.js';
import {labWithVm, MiB, qemuImg, tempDir} from '../helpers/lab.js';
import {freePort, waitForPort} from '../helpers/net.js';
import {cheapenResticKeys} from '../helpers/restic-key.js';
import {startSshd} from '../helpers/sshd.js';

/** `rclone serve restic --append-only` on 127.0.0.1: restic's REST protocol, deletes refused. */
async function appendOnlyServer(dir: string): Promise<{url: string; stop: () => void}> {
	const port = await freePort();
	const server: ChildProcess = spawn(
		'rclone',
		['serve', 'restic', '--addr', `127.0.0.1:${port}`, '--append-only', dir],
		{stdio: 'ignore'},
	);
	await waitForPort(port);
	return {url: `rest:http://127.0.0.1:${port}/`, stop: () => server.kill()};
}

/** A flat copy of what the guest sees on the disk now (no backing file). */
async function diskNow(file: string, dir: string, name: string): Promise<string> {
	const copy = path.join(dir, name);
	await execa('qemu-img', ['convert', '-U', '-O', 'qcow2', file, copy]);
	return copy;
}

/** Writes `mib` MiB of random data at `offsetMiB` into the VM's disk (data that neither qcow2 nor restic can compress). */
async function writeRandom(file: string, offsetMiB: number, mib: number, scratch: string): Promise<void> {
	const data = path.join(scratch, `random-${offsetMiB}`);
	await execa('dd', ['if=/dev/urandom', `of=${data}`, `bs=${MiB / 2}`, `count=${mib * 2}`, 'status=none']);
	await execa('qemu-io', ['-f', 'qcow2', '-c', `write -s ${data} ${offsetMiB * MiB} ${mib * MiB}`, file]);
}

/**
 * A stopped VM, a restic password file (RESTIC_PASSWORD_FILE), a repository and a journal of its
 * own, and the config `config` makes (given the work folder and the password file), driven
 * through the CLI.
 */
async function offsiteLab(options: {sizeMiB?: number; config?: (work: string, password: string) => object} = {}) {
	const lab = await labWithVm('vm1', ['vda'], options.sizeMiB ?? 64);
	const work = await tempDir();
	const password = path.join(work, 'password');
	await writeFile(password, 'pw\n', {mode: 0o600});
	const configDir = path.join(work, 'config');
	if (options.config) {
		await mkdir(configDir);
		await writeFile(path.join(configDir, 'config.json'), JSON.stringify(options.config(work, password)));
	}
	const env = {
		SNAPDECK_CONNECT: `local:${lab.root}`,
		SNAPDECK_REPO: path.join(work, 'repo'),
		SNAPDECK_CONFIG_DIR: configDir,
		SNAPDECK_JOURNAL: path.join(work, 'journal.jsonl'),
		RESTIC_PASSWORD_FILE: password,
	};
	return {lab, work, password, env, run: (...args: string[]) => snapdeck(args, env)};
}

let sshd: Awaited<ReturnType<typeof startSshd>>;
beforeAll(async () => {
	sshd = await startSshd();
});
afterAll(async () => {
	await sshd?.stop();
});

describe('off-site copies through restic', () => {
	it('full + incremental copied to a path, to SFTP and to an append-only rclone server; the local repository deleted; every point restored from each, byte for byte', async () => {
		const lab = await labWithVm('web1', ['vda'], 256);
		const work = await tempDir();
		const repo = path.join(work, 'repo');
		const passwordFile = path.join(work, 'password');
		await writeFile(passwordFile, 'correct horse battery staple\n', {mode: 0o600});
		const configDir = path.join(work, 'config');
		await mkdir(configDir);
		const sftpDir = path.join(work, 'sftp-restic');
		const server = await appendOnlyServer(path.join(work, 'append-only'));
		try {
			const ssh = `ssh -p ${sshd.port} -i ${sshd.keyfile} -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o BatchMode=yes -o LogLevel=ERROR root@127.0.0.1 -s sftp`;
			await writeFile(
				path.join(configDir, 'config.json'),
				JSON.stringify({
					offsite: {
						remote: {repository: `sftp:root@127.0.0.1:${sftpDir}`, passwordFile, options: {'sftp.command': ssh}},
						vault: {repository: server.url, passwordFile, retention: {last: 1}},
					},
				}),
			);
			const env = {
				SNAPDECK_CONNECT: `local:${lab.root}`,
				SNAPDECK_REPO: repo,
				SNAPDECK_CONFIG_DIR: configDir,
				RESTIC_PASSWORD_FILE: passwordFile,
			};
			const run = (...args: string[]) => snapdeck(args, env);
			const local = path.join(work, 'usb', 'restic');
			const targets = [local, 'remote', 'vault'];

			await writeRandom(await lab.activeFile('vda'), 0, 8, work);
			expect((await run('backup', 'web1')).exitCode).toBe(0);
			const atFull = await diskNow(await lab.activeFile('vda'), work, 'at-full.qcow2');
			for (const target of targets) {
				const copy = await run('copy', 'web1', '--target', target, '--json');
				expect(copy.exitCode, copy.stderr).toBe(0);
				expect(jsonLines(copy).at(-1)).toMatchObject({type: 'result', outcome: 'done', created: true});
			}
			// From here on restic opens these targets at a millisecond's KDF cost (test/helpers/restic-key.ts).
			for (const folder of [local, sftpDir, path.join(work, 'append-only')])
				await cheapenResticKeys(folder, 'correct horse battery staple');
			// Copying the same point again copies nothing.
			expect(jsonLines(await run('copy', 'web1', '--target', local, '--json')).at(-1)).toMatchObject({
				outcome: 'already-there',
				uploaded: 0,
			});

			// 1% of the disk changes (2.5 MiB of 256): the second copy uploads about that, not the disk again.
			await writeRandom(await lab.activeFile('vda'), 100, 2.5, work);
			expect((await run('backup', 'web1')).exitCode).toBe(0);
			const atIncremental = await diskNow(await lab.activeFile('vda'), work, 'at-incremental.qcow2');
			for (const target of targets) {
				const copy = await run('copy', 'web1', '--target', target, '--json');
				expect(copy.exitCode, copy.stderr).toBe(0);
				const result = jsonLines(copy).at(-1)!;
				expect(result).toMatchObject({outcome: 'done', created: false});
				expect(Number(result['uploaded'])).toBeLessThan(4 * MiB);
				expect(Number(result['uploaded'])).toBeGreaterThan(2 * MiB);
			}

			await rm(repo, {recursive: true, force: true});
			for (const target of targets) {
				const listed = jsonOf(await run('backups', 'web1', '--from', target, '--json'));
				const points = listed['points'] as Array<{id: string; kind: string}>;
				expect(points.map(point => point.kind)).toEqual(['full', 'incremental']);
				for (const [index, expected] of [atFull, atIncremental].entries()) {
					const to = path.join(work, `restored-${targets.indexOf(target)}-${index}.qcow2`);
					const restore = await run('restore', 'web1', '--from', target, '--point', points[index]!.id, '--to', to);
					expect(restore.exitCode, restore.stderr).toBe(0);
					expect(await qemuImg.same(to, expected)).toBe(true);
					expect((await stat(to)).mode & 0o077).toBe(0);
				}
			}
			// Nothing was staged and left behind beside the restored images.
			expect((await readdir(work)).filter(name => name.startsWith('.snapdeck'))).toEqual([]);
			// Each restic run derives its key (scrypt, about half a second by design): this test runs about forty.

			// The append-only target keeps both points: its prune is refused, clearly, and quickly.
			const refused = await run('prune', 'web1', '--from', 'vault', '--yes');
			expect(refused.exitCode).toBe(1);
			expect(refused.stderr).toContain('refuses deletes (an append-only target)');
			expect((jsonOf(await run('backups', 'web1', '--from', 'vault', '--json'))['points'] as unknown[]).length).toBe(2);
			// A target that allows deletes forgets what its retention does not keep, and the rest still restores.
			const pruned = await run('prune', 'web1', '--from', local, '--keep-last', '1', '--yes', '--json');
			expect(pruned.exitCode, pruned.stderr).toBe(0);
			const keptRun = await run('backups', 'web1', '--from', local, '--json');
			expect(keptRun.exitCode, keptRun.stderr).toBe(0);
			const kept = jsonOf(keptRun)['points'] as Array<{id: string; kind: string}>;
			expect(kept.map(point => point.kind)).toEqual(['incremental']);
			const after = path.join(work, 'after-prune.qcow2');
			expect((await run('restore', 'web1', '--from', local, '--point', kept[0]!.id, '--to', after)).exitCode).toBe(0);
			expect(await qemuImg.same(after, atIncremental)).toBe(true);
			const verify = await run('verify', 'web1', '--from', 'remote', '--read-data');
			expect(verify.stdout).toMatch(/^ok {6}remote: 2 points of web1, structure and all of the data read back/);
		} finally {
			server.stop();
		}
	}, 240_000);

	it('wrong password, unreachable target, no password, unknown name: each an error that says what to do, and nothing changes', async () => {
		const {lab, work, env} = await offsiteLab();
		const wrong = path.join(work, 'wrong');
		await writeFile(wrong, 'wrong\n');
		const run = (args: string[], extra: Record<string, string> = {}) => snapdeck(args, {...env, ...extra});
		await lab.write(0x21, 1);
		expect((await run(['backup', 'vm1'])).exitCode).toBe(0);
		const target = path.join(work, 'restic');
		expect((await run(['copy', 'vm1', '--target', target])).exitCode).toBe(0);

		const badPassword = await run(['copy', 'vm1', '--target', target], {RESTIC_PASSWORD_FILE: wrong});
		expect(badPassword.exitCode).toBe(1);
		expect(badPassword.stderr).toContain(`the password for ${target} is wrong`);
		expect(badPassword.stderr).toContain('check RESTIC_PASSWORD_FILE');

		const port = await freePort();
		const unreachable = await run(['backups', 'vm1', '--from', `rest:http://127.0.0.1:${port}/`]);
		expect(unreachable.exitCode).toBe(1);
		expect(unreachable.stderr).toContain('cannot be reached');
		expect(unreachable.stderr).toContain('connection refused');

		const noPassword = await snapdeck(['copy', 'vm1', '--target', path.join(work, 'other')], {
			...env,
			RESTIC_PASSWORD_FILE: '',
		});
		expect(noPassword.exitCode).toBe(2);
		expect(noPassword.stderr).toContain('no password is given');
		expect(await readdir(work)).not.toContain('other');

		const unknown = await run(['copy', 'vm1', '--target', 'offsite-box']);
		expect(unknown.exitCode).toBe(2);
		expect(unknown.stderr).toContain("'offsite-box' is neither an off-site target named in");
		const nowhere = await run(['copy', 'vm1']);
		expect([nowhere.exitCode, nowhere.stderr]).toEqual([
			2,
			expect.stringContaining("copy needs --target TARGET: vm1: policy 'default' names no off-site target"),
		]);

		// The target still holds exactly the one point.
		expect((jsonOf(await run(['backups', 'vm1', '--from', target, '--json']))['points'] as unknown[]).length).toBe(1);
	});

	it('a copy cancelled or killed in the middle leaves no snapshot and no restic process; the next copy completes it', async () => {
		const {lab, work, env} = await offsiteLab({sizeMiB: 512});
		await writeRandom(await lab.activeFile('vda'), 0, 256, work);
		expect((await snapdeck(['backup', 'vm1', '--no-compress'], env)).exitCode).toBe(0);
		const target = path.join(work, 'restic');
		const started = () => {
			const copy = execa(path.resolve('bin/snapdeck'), ['copy', 'vm1', '--target', target, '--json'], {
				env,
				reject: false,
			});
			const progress = new Promise<void>(resolve => {
				copy.stdout!.on('data', (chunk: Buffer) => {
					if (chunk.toString().includes('"type":"progress"')) resolve();
				});
			});
			return {copy, progress};
		};
		// Ctrl-C once restic reports progress: cancelled, said so, nothing listed.
		const interrupted = started();
		await interrupted.progress;
		interrupted.copy.kill('SIGINT');
		const cancelled = await interrupted.copy;
		expect(cancelled.exitCode, cancelled.stderr).toBe(1);
		expect(cancelled.stderr).toContain(
			'was cancelled; no snapshot was made there, and the next copy reuses what was uploaded',
		);
		expect(jsonOf(await snapdeck(['backups', 'vm1', '--from', target, '--json'], env))['points']).toEqual([]);
		// Killed outright: restic goes with it (the kernel tells it), and writes no snapshot.
		const killed = started();
		await killed.progress;
		killed.copy.kill('SIGKILL');
		await killed.copy;
		for (let waited = 0; waited < 20_000; waited += 200) {
			if ((await execa('pgrep', ['-f', `restic.*backup`], {reject: false})).exitCode !== 0) break;
			await new Promise(resolve => setTimeout(resolve, 200));
		}
		expect((await execa('pgrep', ['-f', `restic.*backup`], {reject: false})).exitCode).toBe(1);
		const listed = await snapdeck(['backups', 'vm1', '--from', target, '--json'], env);
		expect(listed.exitCode, listed.stderr).toBe(0);
		expect(jsonOf(listed)['points']).toEqual([]);

		const again = await snapdeck(['copy', 'vm1', '--target', target, '--json'], env);
		expect(again.exitCode, again.stderr).toBe(0);
		expect(
			(jsonOf(await snapdeck(['backups', 'vm1', '--from', target, '--json'], env))['points'] as unknown[]).length,
		).toBe(1);
		const restored = path.join(work, 'restored.qcow2');
		expect(
			(
				await snapdeck(
					['restore', 'vm1', '--from', target, '--point', String(jsonLines(again).at(-1)!['point']), '--to', restored],
					env,
				)
			).exitCode,
		).toBe(0);
		expect(await qemuImg.same(restored, await lab.activeFile('vda'))).toBe(true);
	});

	it('data tampered with on the target: verify --read-data fails and names the damaged point', async () => {
		const {lab, work, env} = await offsiteLab();
		await writeRandom(await lab.activeFile('vda'), 0, 6, work);
		expect((await snapdeck(['backup', 'vm1'], env)).exitCode).toBe(0);
		const target = path.join(work, 'restic');
		const copied = await snapdeck(['copy', 'vm1', '--target', target, '--json'], env);
		expect(copied.exitCode).toBe(0);
		expect((await snapdeck(['verify', 'vm1', '--from', target, '--read-data'], env)).exitCode).toBe(0);
		// Eight bytes changed in the middle of the largest pack (the point's data).
		const packs = (await execa('find', [path.join(target, 'data'), '-type', 'f'])).stdout.split('\n');
		const sizes = await Promise.all(packs.map(async pack => ({pack, size: (await stat(pack)).size})));
		const largest = sizes.sort((a, b) => b.size - a.size)[0]!;
		await chmod(largest.pack, 0o600);
		await execa('dd', [`of=${largest.pack}`, 'bs=1', `seek=${Math.floor(largest.size / 2)}`, 'conv=notrunc'], {
			input: 'XXXXXXXX',
		});
		const verify = await snapdeck(['verify', 'vm1', '--from', target, '--read-data', '--json'], env);
		expect(verify.exitCode).toBe(1);
		const verdict = jsonOf(verify) as {ok: boolean; problems: string[]};
		expect(verdict.ok).toBe(false);
		expect(verdict.problems.join('\n')).toContain(path.basename(largest.pack).slice(0, 8));
		expect(verdict.problems.join('\n')).toContain(
			`point ${String(jsonLines(copied).at(-1)!['point'])} is damaged there: vda/`,
		);
	});

	it("a policy's off-site target: snapdeck run copies after the backup and checks the target; health watches the copy's age and the check", async () => {
		const {lab, run} = await offsiteLab({
			config: (work, password) => ({
				offsite: {usb: {repository: path.join(work, 'usb'), passwordFile: password}},
				policies: [
					{
						name: 'nightly',
						backups: {schedule: '0 2 * * *', rpo: '3d'},
						offsite: {target: 'usb', maxAge: '2d', checkEvery: '7d'},
					},
				],
			}),
		});
		await lab.write(0x31, 1);
		const first = await run('run', '--now', '2026-12-01T03:00:00Z');
		expect(first.exitCode, first.stderr).toBe(0);
		expect(first.stdout).toMatch(/vm1: copied point 20261201T030000Z to 'usb'/);
		expect(first.stdout).toMatch(/vm1: checked 'usb' \(read 10% of its data\)/);
		const offsiteFindings = async (now: string) =>
			(
				jsonOf(await run('health', '--json', '--now', now)) as {findings: Array<{rule: string; severity: string}>}
			).findings
				.filter(finding => finding.rule.startsWith('offsite'))
				.map(finding => `${finding.rule}:${finding.severity}`);
		expect(await offsiteFindings('2026-12-01T04:00:00Z')).toEqual([]);
		// The copy is the policy's 2 days old by the 4th; twice that by the 6th; the check is due after 7 days.
		expect(await offsiteFindings('2026-12-04T00:00:00Z')).toEqual(['offsite-age:warning']);
		expect(await offsiteFindings('2026-12-06T00:00:00Z')).toEqual(['offsite-age:critical']);
		expect(await offsiteFindings('2026-12-09T00:00:00Z')).toEqual([
			'offsite-age:critical',
			'offsite-check-age:warning',
		]);

		// The next night's run copies the incremental; the check is not due yet.
		await lab.write(0x32, 2);
		const second = await run('run', '--now', '2026-12-02T03:00:00Z');
		expect(second.exitCode, second.stderr).toBe(0);
		expect(second.stdout).toMatch(/vm1: copied point 20261202T030000Z to 'usb'/);
		expect(second.stdout).not.toContain('checked');
		const remote = jsonOf(await run('backups', 'vm1', '--from', 'usb', '--json'))['points'] as Array<{kind: string}>;
		expect(remote.map(point => point.kind)).toEqual(['full', 'incremental']);
		const log = jsonOf(await run('log', '--json')) as {records: Array<{action: string; outcome: string}>};
		expect(log.records.filter(record => record.action === 'copy' && record.outcome === 'done')).toHaveLength(2);
		// copy without --target goes where the policy says, as O in the UI does.
		const byPolicy = await run('copy', 'vm1', '--json');
		expect(byPolicy.exitCode, byPolicy.stderr).toBe(0);
		expect(jsonLines(byPolicy).at(-1)).toMatchObject({outcome: 'already-there', target: 'usb'});
	}, 120_000);

	it("prune --from weighs only this host's copies: another VM of the same name copied to the same target keeps its copies", async () => {
		const a = await offsiteLab();
		const b = await offsiteLab();
		const target = path.join(a.work, 'shared');
		const onB = (...args: string[]) => snapdeck(args, {...b.env, RESTIC_PASSWORD_FILE: a.password});
		for (const [run, pattern] of [
			[a.run, 0x41],
			[onB, 0x42],
		] as const) {
			await (run === a.run ? a.lab : b.lab).write(pattern, 1);
			expect((await run('backup', 'vm1')).exitCode).toBe(0);
			expect((await run('copy', 'vm1', '--target', target)).exitCode).toBe(0);
		}
		// B's copy is the newest of the name there: a keep-last 1 over every snapshot would forget A's only one.
		const pruned = await a.run('prune', 'vm1', '--from', target, '--keep-last', '1', '--yes', '--json');
		expect(pruned.exitCode, pruned.stderr).toBe(0);
		expect(jsonOf(pruned)).toMatchObject({
			outcome: 'nothing',
			remove: [],
			keep: [expect.anything()],
			others: [expect.anything()],
		});
		const left = jsonOf(await onB('backups', 'vm1', '--from', target, '--json'))['points'] as unknown[];
		expect(left).toHaveLength(2);
	});

	it('a snapshot on the target that holds a link where a point file should be: restore refuses it, and reads nothing through it', async () => {
		const {lab, work, password, env} = await offsiteLab();
		await lab.write(0x71, 1);
		expect((await snapdeck(['backup', 'vm1'], env)).exitCode).toBe(0);
		const target = path.join(work, 'restic');
		const copied = jsonLines(await snapdeck(['copy', 'vm1', '--target', target, '--json'], env)).at(-1)!;
		const point = String(copied['point']);
		// Someone with the password adds a newer snapshot of the same point: its file is a link to a secret of this host.
		const forged = path.join(work, 'forged');
		await mkdir(path.join(forged, 'vda'), {recursive: true});
		await writeFile(
			path.join(forged, 'manifest.json'),
			(
				await execa('restic', ['-r', target, 'dump', String(copied['snapshot']), '/manifest.json'], {
					env: {RESTIC_PASSWORD_FILE: password},
				})
			).stdout,
		);
		await writeFile(path.join(work, 'secret'), 'not for a restore');
		await execa('ln', ['-s', path.join(work, 'secret'), path.join(forged, 'vda', `${point}.qcow2`)]);
		const tags = (await execa('restic', ['-r', target, 'snapshots', '--json'], {env: {RESTIC_PASSWORD_FILE: password}}))
			.stdout;
		const added = await execa(
			'restic',
			[
				'-r',
				target,
				'backup',
				'--json',
				'--tag',
				(JSON.parse(tags) as Array<{tags: string[]}>)[0]!.tags.join(','),
				'.',
			],
			{cwd: forged, env: {RESTIC_PASSWORD_FILE: password}},
		);
		const snapshot = String(
			added.stdout
				.split('\n')
				.map(line => JSON.parse(line) as Record<string, unknown>)
				.find(line => line['message_type'] === 'summary')!['snapshot_id'],
		);
		// This host restores its own copy unless told otherwise: the forged snapshot is asked for by its id.
		const restored = path.join(work, 'restored.qcow2');
		const result = await snapdeck(
			['restore', 'vm1', '--from', target, '--point', point, '--snapshot', snapshot, '--to', restored],
			env,
		);
		expect(result.exitCode).toBe(1);
		expect(result.stderr).toContain(`holds vda/${point}.qcow2 as a link or device, not a file: it is not restored`);
		expect(await readdir(work)).not.toContain('restored.qcow2');
	});

	it.runIf(os.userInfo().uid === 0)(
		'a full target (a 6 MiB tmpfs): the copy stops at once, says so and what to do; no snapshot is listed',
		async () => {
			const {lab, work, env} = await offsiteLab();
			const target = path.join(work, 'usb');
			await mkdir(target);
			await execa('mount', ['-t', 'tmpfs', '-o', 'size=6m', 'tmpfs', target]);
			mounts.push(target);
			await writeRandom(await lab.activeFile('vda'), 0, 16, work);
			expect((await snapdeck(['backup', 'vm1'], env)).exitCode).toBe(0);
			const copy = await snapdeck(['copy', 'vm1', '--target', path.join(target, 'restic')], env);
			expect(copy.exitCode).toBe(1);
			expect(copy.stderr).toContain(`${path.join(target, 'restic')} is full`);
			expect(copy.stderr).toContain('free space there');
			expect(copy.stderr).toContain('no space left on device');
			const listed = await snapdeck(['backups', 'vm1', '--from', path.join(target, 'restic'), '--json'], env);
			expect(jsonOf(listed)['points'], listed.stderr).toEqual([]);
			await execa('umount', [target]);
			mounts.splice(mounts.indexOf(target), 1);
		},
	);

	it("a target's own schedule: backups every night, copies there only when the target's weekly schedule is due", async () => {
		const {lab, run} = await offsiteLab({
			config: (work, password) => ({
				offsite: {weekly: {repository: path.join(work, 'weekly'), passwordFile: password, schedule: '0 4 * * 0'}},
				policies: [{name: 'nightly', backups: {schedule: '0 2 * * *'}, offsite: {target: 'weekly', maxAge: '8d'}}],
			}),
		});
		await lab.write(0x41, 1);
		// Saturday 2026-12-05: the first run does every task that never ran, the copy too.
		const first = await run('run', '--now', '2026-12-05T03:00:00Z', '--json');
		expect(first.exitCode, first.stderr).toBe(0);
		expect((jsonOf(first)['runs'] as Array<{task: string}>).map(task => task.task)).toEqual(['backups', 'offsite']);
		// Sunday 03:00: a backup, no copy (the target's schedule is Sunday 04:00); 05:00: the copy.
		await lab.write(0x42, 2);
		const night = jsonOf(await run('run', '--now', '2026-12-06T03:00:00Z', '--json'))['runs'] as Array<{task: string}>;
		expect(night.map(task => task.task)).toEqual(['backups']);
		const morning = jsonOf(await run('run', '--now', '2026-12-06T05:00:00Z', '--json'))['runs'] as Array<{
			task: string;
			actions: string[];
		}>;
		expect(morning.map(task => task.task)).toEqual(['offsite']);
		expect(morning[0]!.actions.join('\n')).toMatch(/copied point 20261206T030000Z to 'weekly'/);
		const schedule = jsonOf(await run('schedule', '--json', '--now', '2026-12-06T05:00:00Z'))['tasks'] as Array<{
			task: string;
			schedule: string;
			nextRun: string;
		}>;
		expect(schedule.find(task => task.task === 'offsite')).toMatchObject({
			schedule: '0 4 * * 0',
			nextRun: '2026-12-13T04:00:00.000Z',
		});
	}, 120_000);
});

const mounts: string[] = [];
afterEach(async () => {
	for (const mount of mounts.splice(0)) await execa('umount', [mount], {reject: false});
});
