import {mkdir, readFile, writeFile} from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import {execa} from 'execa';
import {describe, expect, it} from 'vitest';
import {jsonOf, snapdeck} from '../helpers/cli.js';
import {labWithVm, tempDir} from '../helpers/lab.js';

const POLICY = {
	name: 'nightly',
	vms: ['vm*'],
	maxChainDepth: 6,
	snapshots: {schedule: '0 */12 * * *', keep: 3, maxAge: '3d'},
	backups: {schedule: '0 2 * * *', rpo: '26h', verifyEvery: '3d', retention: {daily: 3}},
};

describe('snapdeck run, stepped through a simulated week with --now', () => {
	it('takes and expires the scheduled snapshots, backs up, prunes and verifies; the journal and health agree', async () => {
		const lab = await labWithVm('vm1', ['vda'], 64);
		const state = await tempDir();
		const configDir = await tempDir();
		await writeFile(path.join(configDir, 'config.json'), JSON.stringify({policies: [POLICY]}));
		const env = {
			SNAPDECK_CONNECT: `local:${lab.root}`,
			SNAPDECK_REPO: path.join(state, 'repo'),
			SNAPDECK_CONFIG_DIR: configDir,
			SNAPDECK_JOURNAL: path.join(state, 'journal.jsonl'),
		};
		const run = (...args: string[]) => snapdeck(args, env);
		const start = Date.parse('2026-12-01T00:00:00Z');
		let last = '';
		for (let hour = 0; hour < 7 * 24; hour += 6) {
			last = new Date(start + hour * 3_600_000).toISOString();
			await lab.write(0x10 + (hour % 200), 1 + ((hour / 6) % 50));
			const result = await run('run', '--now', last);
			expect(result.exitCode, `${last}: ${result.stdout} ${result.stderr}`).toBe(0);
		}
		expect(last).toBe('2026-12-07T18:00:00.000Z');

		// Snapshots every 12 hours, the newest 3 kept; the older 11 merged away.
		const tree = jsonOf(await run('tree', 'vm1', '--json')) as {snapshots: Array<{name: string}>};
		expect(tree.snapshots.map(snapshot => snapshot.name)).toEqual([
			'auto-20261206-120000',
			'auto-20261207-000000',
			'auto-20261207-120000',
		]);
		// A backup each day (due at 02:00, run at 06:00), pruned to the last 3 days.
		const backups = jsonOf(await run('backups', 'vm1', '--json')) as {
			points: Array<{createdAt: string; kind: string; verified: {at: string} | null}>;
		};
		expect(backups.points.map(point => point.createdAt)).toEqual([
			'2026-12-05T06:00:00.000Z',
			'2026-12-06T06:00:00.000Z',
			'2026-12-07T06:00:00.000Z',
		]);
		// Incremental all week, across the snapshots taken and merged between backups; prune made the oldest kept one a full.
		expect(backups.points.map(point => point.kind)).toEqual(['full', 'incremental', 'incremental']);
		expect(backups.points.some(point => point.verified !== null)).toBe(true);

		const log = jsonOf(await run('log', '--json', '--last', '1000')) as {
			records: Array<{action: string; outcome: string}>;
		};
		const done = (action: string) =>
			log.records.filter(record => record.action === action && record.outcome === 'done').length;
		// Backups: one at the very first run (a task that never ran is due at once), then one a day.
		expect([done('take'), done('merge'), done('backup')]).toEqual([14, 11, 8]);
		expect(done('prune')).toBeGreaterThanOrEqual(1);
		expect(done('verify')).toBeGreaterThanOrEqual(2);

		const schedule = jsonOf(await run('schedule', '--json', '--now', last)) as {
			tasks: Array<{task: string; lastRun: string; nextRun: string}>;
		};
		expect(schedule.tasks).toEqual([
			expect.objectContaining({
				task: 'snapshots',
				lastRun: '2026-12-07T12:00:00.000Z',
				nextRun: '2026-12-08T00:00:00.000Z',
			}),
			expect.objectContaining({
				task: 'backups',
				lastRun: '2026-12-07T06:00:00.000Z',
				nextRun: '2026-12-08T02:00:00.000Z',
			}),
		]);

		// Health at the end agrees: every snapshot, backup and verification within the policy.
		const health = await run('health', '--json', '--now', last);
		expect((jsonOf(health) as {findings: unknown[]}).findings).toEqual([]);
		expect(health.exitCode).toBe(0);
		// Nothing is due right after a run.
		expect((await run('run', '--now', last)).stdout).toBe('nothing is due');
	});

	it('skips a VM whose lock is held, records why, and does the task at the next run', async () => {
		const lab = await labWithVm('vm1', ['vda'], 64);
		const state = await tempDir();
		const configDir = await tempDir();
		await writeFile(
			path.join(configDir, 'config.json'),
			JSON.stringify({policies: [{name: 'p', snapshots: {schedule: '0 * * * *'}}]}),
		);
		const env = {
			SNAPDECK_CONNECT: `local:${lab.root}`,
			SNAPDECK_CONFIG_DIR: configDir,
			SNAPDECK_JOURNAL: path.join(state, 'journal.jsonl'),
		};
		const holder = execa('sleep', ['60']);
		try {
			await mkdir(path.join(lab.folder, '.snapdeck'), {recursive: true});
			await writeFile(
				path.join(lab.folder, '.snapdeck', 'lock'),
				JSON.stringify({
					pid: holder.pid,
					host: os.hostname(),
					user: 'someone',
					command: 'snapdeck merge vm1 s1',
					since: new Date().toISOString(),
				}),
			);
			const skipped = await snapdeck(['run', '--now', '2026-12-01T00:30:00Z'], env);
			expect(skipped.exitCode).toBe(0);
			expect(skipped.stdout).toMatch(
				/vm1: snapshots skipped: VM 'vm1' is busy: locked by pid \d+ \(snapdeck merge vm1 s1\)/,
			);
			const log = jsonOf(await snapdeck(['log', 'vm1', '--json'], env)) as {
				records: Array<{action: string; message: string}>;
			};
			expect(log.records).toEqual([
				expect.objectContaining({action: 'schedule', message: expect.stringContaining('skipped, ')}),
			]);
		} finally {
			holder.kill();
			await holder.catch(() => undefined);
		}
		const later = await snapdeck(['run', '--now', '2026-12-01T00:45:00Z'], env);
		expect(later.stdout).toContain("vm1: took snapshot 'auto-20261201-004500'");
	});

	it('the crontab line keeps --connect, --repo and the config folder, quoted for cron and sh: run as cron would, it acts on that lab', async () => {
		const lab = await labWithVm('vm1', ['vda'], 64);
		const state = await tempDir();
		// A config folder whose name cron and sh would both mangle unquoted.
		const configDir = path.join(state, `it's 100% "mine" $HOME`);
		await mkdir(configDir);
		await writeFile(
			path.join(configDir, 'config.json'),
			JSON.stringify({policies: [{name: 'p', snapshots: {schedule: '0 * * * *'}}]}),
		);
		const repo = path.join(state, 'repo');
		const home = await tempDir();
		const env = {SNAPDECK_CONFIG_DIR: configDir, SNAPDECK_JOURNAL: path.join(state, 'journal.jsonl'), HOME: home};
		const printed = await snapdeck(
			['schedule', 'install', '--dry-run', '--via', 'cron', '--connect', `local:${lab.root}`, '--repo', repo],
			env,
		);
		expect(printed.exitCode, printed.stderr).toBe(0);
		const line = printed.stdout.split('\n').find(text => text.startsWith('*/15 * * * * '))!;
		expect(line).toContain(`--connect local:${lab.root}`);
		expect(line).toContain(`--repo ${repo}`);
		// What cron does to the line (\% is a %), then sh, from another folder, with no snapdeck variable set.
		const command = line.slice('*/15 * * * * '.length).replaceAll('\\%', '%');
		const ran = await execa('/bin/sh', ['-c', command], {
			cwd: '/',
			env: {PATH: '/usr/bin:/bin', HOME: home},
			extendEnv: false,
			reject: false,
		});
		expect(ran.exitCode, ran.stderr).toBe(0);
		expect(await readFile(path.join(home, 'snapdeck-run.log'), 'utf8')).toMatch(
			/vm1: took snapshot 'auto-\d{8}-\d{6}'/,
		);
		const tree = jsonOf(await snapdeck(['tree', 'vm1', '--json', '--connect', `local:${lab.root}`])) as {
			snapshots: Array<{name: string}>;
		};
		expect(tree.snapshots).toHaveLength(1);
	});

	it("the systemd unit keeps --connect, --repo and the config folder, in systemd's quoting", async () => {
		const lab = await labWithVm('vm1', ['vda'], 64);
		const units = await tempDir();
		const configDir = path.join(units, 'a "quoted" 50% $dir');
		const printed = await snapdeck(
			['schedule', 'install', '--dry-run', '--via', 'systemd', '--connect', `local:${lab.root}`, '--repo', 'rel/repo'],
			{SNAPDECK_CONFIG_DIR: configDir},
		);
		expect(printed.exitCode, printed.stderr).toBe(0);
		const execStart = printed.stdout.split('\n').find(text => text.startsWith('ExecStart='))!;
		expect(execStart).toMatch(
			/^ExecStart="\/usr\/bin\/env" "SNAPDECK_CONFIG_DIR=[^"]*\/a \\"quoted\\" 50%% \$\$dir" (?:"[^"]*" )*"[^"]*node[^"]*" "[^"]*snapdeck\.js" "run" /,
		);
		expect(execStart).toContain(`"--connect" "local:${lab.root}"`);
		expect(execStart).toContain(`"--repo" "${path.resolve('rel/repo')}"`);
		// systemd itself reads both units without a complaint.
		const [service, timer] = printed.stdout.split(/^# .*$/m).slice(1);
		await writeFile(path.join(units, 'snapdeck-run.service'), service!.trim() + '\n');
		await writeFile(path.join(units, 'snapdeck-run.timer'), timer!.trim() + '\n');
		const verified = await execa(
			'systemd-analyze',
			['verify', path.join(units, 'snapdeck-run.service'), path.join(units, 'snapdeck-run.timer')],
			{reject: false},
		);
		expect(verified.exitCode, verified.stderr).toBe(0);
		expect(verified.stderr).toBe('');
	});
});
