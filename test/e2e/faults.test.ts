import {mkdir, readdir, readFile, rm, symlink, writeFile} from 'node:fs/promises';
import {hostname} from 'node:os';
import path from 'node:path';
import {execa} from 'execa';
import {describe, expect, it} from 'vitest';
import {jsonLines, jsonOf} from '../helpers/cli.js';
import {labWithVm, MiB, qemuIo, tempDir} from '../helpers/lab.js';
import {runningLab} from '../helpers/live.js';

/**
 * The fault suite: snapdeck killed outright (SIGKILL) at every step of every kind of job, live and
 * offline, then `recover` (or the same command again), then the data read back. The plans' steps
 * are counted from their --dry-run, so a step added later is covered too. Other files cover the
 * rest: crash.test.ts (offline merge and revert), backup-crash.test.ts (prune at every step, a
 * backup mid-copy), qemu-leftovers.test.ts (inside a QMP job).
 */

const BIN = path.resolve('bin/snapdeck');
const A = 0xa1;
const B = 0xb2;
const C = 0xc3;

type Lab = Awaited<ReturnType<typeof labWithVm>>;

const cli = (lab: Lab, args: string[], env: Record<string, string> = {}) =>
	execa(BIN, [...args, '--connect', `local:${lab.root}`], {
		reject: false,
		stdin: 'ignore',
		env: {NO_COLOR: '1', ...env},
	});

/** The JSON a run printed last (the CLI's result, or its error). */
const jsonOfRun = (result: {stdout: string; exitCode?: number}) =>
	jsonOf({exitCode: result.exitCode ?? 1, stdout: result.stdout, stderr: '', signal: undefined});

/** during:1, after:1, during:2, ... for a plan of `steps` steps. */
const killPoints = (steps: number) =>
	Array.from({length: steps}, (_, index) => [`during:${index + 1}`, `after:${index + 1}`]).flat();

async function planSteps(lab: Lab, args: string[]): Promise<number> {
	const dry = await cli(lab, [...args, '--dry-run', '--json']);
	expect(dry.exitCode, dry.stderr).toBe(0);
	return (jsonOf({exitCode: 0, stdout: dry.stdout, stderr: '', signal: undefined})['plan'] as {steps: unknown[]}).steps
		.length;
}

/** Kills `args` at `point`, proves it died there, then runs recover and expects it to succeed. */
async function killThenRecover(lab: Lab, args: string[], point: string, vm: string) {
	const crashed = await cli(lab, [...args, '--yes'], {SNAPDECK_CRASH_AT: point});
	expect(crashed.signal, `${args.join(' ')} at ${point}: ${crashed.stderr}`).toBe('SIGKILL');
	expect(await lab.imagesHealthy(), `${point}: every image still reads`).toBe(true);
	const recovered = await cli(lab, ['recover', vm]);
	expect(recovered.exitCode, `${point}: ${recovered.stderr}`).toBe(0);
	expect(await readdir(path.join(lab.folder, '.snapdeck'))).not.toContain('pending.json');
}

describe('kill -9 at every step of take, merge and revert, offline and live, then recover', () => {
	const offlineTake = async () => {
		const lab = await labWithVm();
		await lab.write(A, 1);
		return lab;
	};
	it('take, offline', async () => {
		const steps = await planSteps(await offlineTake(), ['snapshot', 'vm1', 's1']);
		for (const point of killPoints(steps)) {
			const lab = await offlineTake();
			await killThenRecover(lab, ['snapshot', 'vm1', 's1'], point, 'vm1');
			expect((await lab.vmFile()).current, point).toBe('s1');
			await lab.write(B, 2);
			await lab.revert('s1');
			expect([await lab.reads(A, 1), await lab.reads(B, 2)], point).toEqual([true, false]);
		}
	});

	const live = async () => {
		const lab = await runningLab('live1', ['vda', 'vdb']);
		await lab.guestWrite(A, 1);
		await lab.guestWrite(A, 1, 'vdb');
		return lab;
	};
	it('take, live, two disks (one transaction)', async () => {
		const steps = await planSteps(await live(), ['snapshot', 'live1', 's1']);
		for (const point of killPoints(steps)) {
			const lab = await live();
			await killThenRecover(lab, ['snapshot', 'live1', 's1'], point, 'live1');
			expect(await lab.liveTops(), point).toEqual({vda: 'vda.s1.qcow2', vdb: 'vdb.s1.qcow2'});
			await lab.guestWrite(B, 2);
			expect([await lab.reads(A, 1), await lab.reads(B, 2), await lab.reads(A, 1, 'vdb')], point).toEqual([
				true,
				true,
				true,
			]);
		}
	});

	const liveWithSnapshots = async () => {
		const lab = await runningLab();
		await lab.guestWrite(A, 1);
		await lab.take('s1');
		await lab.guestWrite(B, 2, 'vda', 4);
		await lab.take('s2');
		await lab.guestWrite(C, 8);
		return lab;
	};
	it.each(['s1', 's2'])('merge of %s, live', async snapshot => {
		const steps = await planSteps(await liveWithSnapshots(), ['merge', 'live1', snapshot]);
		for (const point of killPoints(steps)) {
			const lab = await liveWithSnapshots();
			await killThenRecover(lab, ['merge', 'live1', snapshot], point, 'live1');
			expect(
				(await lab.vmFile()).snapshots.map(other => other.name),
				point,
			).toEqual(['s1', 's2'].filter(name => name !== snapshot));
			expect(await lab.isRunning(), point).toBe(true);
			expect([await lab.reads(A, 1), await lab.reads(B, 2), await lab.reads(C, 8)], point).toEqual([true, true, true]);
		}
	});

	it('revert, live (stop, revert, start)', async () => {
		const steps = await planSteps(await liveWithSnapshots(), ['revert', 'live1', 's1']);
		expect(steps).toBeGreaterThanOrEqual(4);
		for (const point of killPoints(steps)) {
			const lab = await liveWithSnapshots();
			await killThenRecover(lab, ['revert', 'live1', 's1'], point, 'live1');
			expect((await lab.vmFile()).current, point).toBe('s1');
			expect(await lab.isRunning(), point).toBe(true);
			expect([await lab.reads(A, 1), await lab.reads(B, 2), await lab.reads(C, 8)], point).toEqual([
				true,
				false,
				false,
			]);
		}
	});
});

/** Killed at every step of every kind of job, in every variant: test/e2e/fault-suite*.test.ts; here, what those do not ask. */
describe('kill -9 in a backup and in a restore, then the same command again', () => {
	const backedUp = async () => {
		const lab = await labWithVm('vm1', ['vda'], 256);
		await lab.write(A, 1);
		const repo = path.join(await tempDir(), 'repo');
		const first = await cli(lab, ['backup', 'vm1', '--repo', repo, '--json']);
		expect(first.exitCode, first.stderr).toBe(0);
		const point = jsonLines({exitCode: 0, stdout: first.stdout, stderr: '', signal: undefined}).at(-1)!['point'] as {
			id: string;
		};
		await qemuIo.write(await lab.activeFile(), B, 16 * MiB, 64 * MiB);
		return {lab, repo, point: point.id};
	};

	it('a killed restore is on record: health names it, recover removes its partial file and says so', async () => {
		const {lab, repo, point} = await backedUp();
		const target = path.join(await tempDir(), 'restored.qcow2');
		// Killed with the image written whole in the job's work folder, not yet linked to the name asked for.
		const crashed = await cli(lab, ['restore', 'vm1', '--point', point, '--to', target, '--repo', repo], {
			SNAPDECK_CRASH_AT: 'restore:written',
		});
		expect(crashed.signal).toBe('SIGKILL');
		const [work, ...others] = await readdir(path.dirname(target));
		expect([work, others]).toEqual([expect.stringMatching(/^\.snapdeck-work-[0-9a-f]{16}-restore$/), []]);
		const partial = path.join(path.dirname(target), work!);
		const findings = async () =>
			(
				jsonOfRun(await cli(lab, ['health', 'vm1', '--json', '--repo', repo]))['vms'] as Array<{
					findings: Array<{rule: string; severity: string; message: string}>;
				}>
			)[0]!.findings;
		expect((await findings()).find(finding => finding.rule === 'unfinished-job')).toMatchObject({
			severity: 'warning',
			message: expect.stringMatching(
				new RegExp(`a restore of ${point} of vm1 .* did not end; run 'snapdeck recover vm1'`),
			),
		});
		const recovered = await cli(lab, ['recover', 'vm1', '--repo', repo]);
		expect(recovered.exitCode, recovered.stderr).toBe(0);
		expect(recovered.stdout).toContain(`removed ${partial}`);
		expect(await readdir(path.dirname(target))).toEqual([]);
		expect((await findings()).map(finding => finding.rule)).not.toContain('unfinished-job');
		expect(await readFile(path.join(repo, 'vm1', '.snapdeck', 'journal.jsonl'), 'utf8')).toMatch(
			/"action":"recover".*removed what it left/,
		);
	});

	it('a restore --in-place killed while it writes: critical in health, other jobs refused until it is finished or recover is told', async () => {
		const {lab, repo, point} = await backedUp();
		const crashed = await cli(lab, ['restore', 'vm1', '--point', point, '--in-place', '--yes', '--repo', repo], {
			SNAPDECK_CRASH_AT: 'restore-in-place:writing',
		});
		expect(crashed.signal).toBe('SIGKILL');
		const health = jsonOfRun(await cli(lab, ['health', 'vm1', '--json', '--repo', repo]));
		expect((health['vms'] as Array<{findings: Array<{rule: string; severity: string}>}>)[0]!.findings).toContainEqual(
			expect.objectContaining({rule: 'unfinished-job', severity: 'critical'}),
		);
		const backup = await cli(lab, ['backup', 'vm1', '--repo', repo, '--json']);
		expect(backup.exitCode).toBe(1);
		expect(jsonOfRun(backup)['error']).toMatchObject({
			code: 'unfinished',
			message: expect.stringContaining(`vm1's disks may be half restored to point ${point}`),
		});
		// The operator goes back to the state before the restore, then tells recover.
		await lab.revert(`before-restore-${point}`);
		expect(await qemuIo.holds(await lab.activeFile(), B, 16 * MiB, 64 * MiB)).toBe(true);
		expect((await cli(lab, ['recover', 'vm1', '--repo', repo])).exitCode).toBe(0);
		const after = await cli(lab, ['backup', 'vm1', '--repo', repo]);
		expect(after.exitCode, after.stderr).toBe(0);
	});

	it('a forged job record is not obeyed: recover removes no point, no manifest, nothing outside, and says what it left alone', async () => {
		const {lab, repo, point} = await backedUp();
		const vmDir = path.join(repo, 'vm1');
		const outside = await tempDir();
		const victim = path.join(outside, '.x.snapdeck-partial');
		await writeFile(victim, 'keep me');
		const before = async () => ({
			manifest: await readFile(path.join(vmDir, 'manifest.json'), 'utf8'),
			vda: (await readdir(path.join(vmDir, 'vda'))).sort(),
			outside: (await readdir(outside)).sort(),
		});
		const was = await before();
		// An older snapdeck's record, naming the VM's point folder, its manifest and a partial file outside: reported, never obeyed.
		const legacy = {
			action: 'restore',
			command: 'forged',
			subject: null,
			startedAt: '2026-01-01T00:00:00Z',
			pid: 999999,
			halfDone: null,
			leaves: [path.join(vmDir, 'vda'), path.join(vmDir, 'manifest.json'), victim],
		};
		await writeFile(path.join(vmDir, '.snapdeck', 'job.json'), JSON.stringify(legacy));
		const recovered = await cli(lab, ['recover', 'vm1', '--repo', repo]);
		expect(recovered.exitCode).toBe(1);
		expect(recovered.stdout).toContain('job.json is not a job record snapdeck wrote');
		expect(await before()).toEqual(was);
		expect(
			(await cli(lab, ['restore', 'vm1', '--point', point, '--to', path.join(outside, 'r.qcow2'), '--repo', repo]))
				.stderr,
		).toContain('is not a job record snapdeck wrote');
		await rm(path.join(vmDir, '.snapdeck', 'job.json'));
		// A record in today's form naming them: refused whole (its leftovers must be its own work folders).
		const token = '0123456789abcdef';
		const record = {
			version: 2,
			token,
			action: 'restore',
			command: 'forged',
			subject: null,
			startedAt: '2026-01-01T00:00:00Z',
			pid: 999999,
			host: hostname(),
			started: null,
			halfDone: null,
			debris: [
				{kind: 'folder', parent: repo, name: 'vm1'},
				{kind: 'folder', parent: vmDir, name: 'manifest.json'},
				{kind: 'folder', parent: outside, name: '.x.snapdeck-partial'},
			],
		};
		await mkdir(path.join(vmDir, '.snapdeck', 'jobs'), {recursive: true});
		await writeFile(path.join(vmDir, '.snapdeck', 'jobs', `${token}.json`), JSON.stringify(record));
		expect((await cli(lab, ['recover', 'vm1', '--repo', repo])).exitCode).toBe(1);
		expect(await before()).toEqual(was);
		// One whose work folder is a link to the points, or holds no token: left alone, and said so; the record goes.
		const linked = `.snapdeck-work-${token}-restore`;
		await symlink(path.join(vmDir, 'vda'), path.join(outside, linked));
		await mkdir(path.join(vmDir, `.snapdeck-work-${token}-copy`));
		await writeFile(path.join(vmDir, `.snapdeck-work-${token}-copy`, 'precious'), 'keep me');
		await writeFile(
			path.join(vmDir, '.snapdeck', 'jobs', `${token}.json`),
			JSON.stringify({
				...record,
				debris: [
					{kind: 'folder', parent: outside, name: linked},
					{kind: 'folder', parent: vmDir, name: `.snapdeck-work-${token}-copy`},
				],
			}),
		);
		const third = await cli(lab, ['recover', 'vm1', '--repo', repo]);
		expect(third.exitCode, third.stderr).toBe(0);
		expect(third.stdout).toMatch(/left alone \(not what it made\):.*not a folder.*does not carry the job's token/);
		expect(await before()).toEqual({...was, outside: [linked, ...was.outside].sort()});
		expect(await readFile(path.join(vmDir, `.snapdeck-work-${token}-copy`, 'precious'), 'utf8')).toBe('keep me');
		expect(await readdir(path.join(vmDir, '.snapdeck', 'jobs'))).toEqual([]);
		expect((await cli(lab, ['verify', 'vm1', '--repo', repo])).exitCode).toBe(0);
	});

	it('a forged unfinished plan (pending.json) that names files outside: neither prune nor recover removes them', async () => {
		const {lab, repo} = await backedUp();
		const outside = await tempDir();
		const victim = path.join(outside, 'precious');
		await writeFile(victim, 'keep me');
		const step = (file: string) => ({
			op: 'delete-image',
			disk: 'vda',
			file,
			summary: 'forged',
			reads: [],
			writes: [],
			creates: [],
			deletes: [],
			bytes: 0,
			space: 0,
			undo: '-',
		});
		const pending = (action: string, vm: string, files: string[]) =>
			JSON.stringify({
				plan: {
					action,
					vm,
					snapshot: '-',
					summary: 'forged',
					steps: files.map(step),
					bytes: 0,
					space: 0,
					discards: [],
					warnings: [],
				},
				done: 0,
				started: null,
				command: 'forged',
				startedAt: '2026-01-01T00:00:00Z',
			});
		// In the repository (whoever else writes it): a prune's plan.
		await writeFile(
			path.join(repo, 'vm1', '.snapdeck', 'pending.json'),
			pending('prune', 'vm1', [victim, path.relative(path.join(repo, 'vm1'), victim)]),
		);
		const pruned = await cli(lab, ['prune', 'vm1', '--keep-last', '5', '--repo', repo, '--yes']);
		expect(pruned.exitCode).toBe(1);
		expect(pruned.stderr).toContain('which is not a file in');
		expect(await readFile(victim, 'utf8')).toBe('keep me');
		// In the VM's own folder (whoever may edit it): a merge's plan.
		await mkdir(path.join(lab.root, 'vm1', '.snapdeck'), {recursive: true});
		await writeFile(path.join(lab.root, 'vm1', '.snapdeck', 'pending.json'), pending('merge', 'vm1', [victim]));
		const recovered = await cli(lab, ['recover', 'vm1', '--yes']);
		expect(recovered.exitCode).toBe(1);
		expect(recovered.stderr).toContain('which is not a file in');
		expect(await readFile(victim, 'utf8')).toBe('keep me');
	});

	it("a forged record's instant-restore mark outside these backups, or reached through a link, is left alone", async () => {
		const {lab, repo} = await backedUp();
		const vmDir = path.join(repo, 'vm1');
		const outside = await tempDir();
		// Files named like marks, elsewhere: another repository's mark, and a file a link in the repository leads to.
		const elsewhere = path.join(outside, 'other-repo', 'vm2', '.snapdeck', 'instant');
		await mkdir(elsewhere, {recursive: true});
		await writeFile(path.join(elsewhere, 'vm3.json'), 'keep me');
		await mkdir(path.join(outside, 'precious'));
		await writeFile(path.join(outside, 'precious', 'config.json'), 'keep me');
		await mkdir(path.join(vmDir, '.snapdeck', 'x', '.snapdeck'), {recursive: true});
		await symlink(path.join(outside, 'precious'), path.join(vmDir, '.snapdeck', 'x', '.snapdeck', 'instant'));
		const token = 'fedcba9876543210';
		const connection = `local:${lab.root}`;
		await mkdir(path.join(vmDir, '.snapdeck', 'jobs'), {recursive: true});
		await writeFile(
			path.join(vmDir, '.snapdeck', 'jobs', `${token}.json`),
			JSON.stringify({
				version: 2,
				token,
				action: 'restore',
				command: 'forged',
				subject: null,
				startedAt: '2026-01-01T00:00:00Z',
				pid: 999999,
				host: hostname(),
				started: null,
				halfDone: null,
				debris: [
					{kind: 'instant', connection, vm: 'vm3', marker: path.join(elsewhere, 'vm3.json')},
					{
						kind: 'instant',
						connection,
						vm: 'config',
						marker: path.join(vmDir, '.snapdeck', 'x', '.snapdeck', 'instant', 'config.json'),
					},
				],
			}),
		);
		const recovered = await cli(lab, ['recover', 'vm1', '--repo', repo]);
		expect(recovered.exitCode, recovered.stderr).toBe(0);
		expect(recovered.stdout).toContain('not the mark of an instant restore of these backups');
		expect(await readFile(path.join(elsewhere, 'vm3.json'), 'utf8')).toBe('keep me');
		expect(await readFile(path.join(outside, 'precious', 'config.json'), 'utf8')).toBe('keep me');
		// The mark of these backups' own folder, reached through a link, is not removed either.
		await rm(path.join(vmDir, '.snapdeck', 'instant'), {recursive: true, force: true});
		await symlink(path.join(outside, 'precious'), path.join(vmDir, '.snapdeck', 'instant'));
		await writeFile(
			path.join(vmDir, '.snapdeck', 'jobs', `${token}.json`),
			JSON.stringify({
				version: 2,
				token,
				action: 'restore',
				command: 'forged',
				subject: null,
				startedAt: '2026-01-01T00:00:00Z',
				pid: 999999,
				host: hostname(),
				started: null,
				halfDone: null,
				debris: [
					{kind: 'instant', connection, vm: 'config', marker: path.join(vmDir, '.snapdeck', 'instant', 'config.json')},
				],
			}),
		);
		expect((await cli(lab, ['recover', 'vm1', '--repo', repo])).stdout).toContain('is not a folder');
		expect(await readFile(path.join(outside, 'precious', 'config.json'), 'utf8')).toBe('keep me');
	});

	it('a restore --in-place killed at every step: running it again leaves the disk reading as the point, and the safety snapshot undoes it', async () => {
		const {lab: probe, repo: probeRepo, point: probePoint} = await backedUp();
		const steps = await planSteps(probe, ['restore', 'vm1', '--point', probePoint, '--in-place', '--repo', probeRepo]);
		for (const killAt of [...killPoints(steps), 'restore-in-place:snapshot-taken', 'restore-in-place:writing']) {
			const {lab, repo, point} = await backedUp();
			const crashed = await cli(lab, ['restore', 'vm1', '--point', point, '--in-place', '--yes', '--repo', repo], {
				SNAPDECK_CRASH_AT: killAt,
			});
			expect(crashed.signal, killAt).toBe('SIGKILL');
			expect(await lab.imagesHealthy(), killAt).toBe(true);
			if ((await readdir(path.join(lab.folder, '.snapdeck'))).includes('pending.json'))
				expect((await cli(lab, ['recover', 'vm1'])).exitCode, killAt).toBe(0);
			const again = await cli(lab, ['restore', 'vm1', '--point', point, '--in-place', '--yes', '--repo', repo]);
			expect(again.exitCode, `${killAt}: ${again.stderr}`).toBe(0);
			expect(
				[await lab.reads(A, 1), await qemuIo.holds(await lab.activeFile(), 0, 16 * MiB, 64 * MiB)],
				killAt,
			).toEqual([true, true]);
			// The first safety snapshot holds the state from before any restore.
			const safety = (await lab.vmFile()).snapshots.find(snapshot => snapshot.name === `before-restore-${point}`)!;
			await lab.revert(safety.name);
			expect(await qemuIo.holds(await lab.activeFile(), B, 16 * MiB, 64 * MiB), killAt).toBe(true);
		}
	});
});
