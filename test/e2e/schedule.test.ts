import {mkdir, writeFile} from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import {execa} from 'execa';
import {describe, expect, it} from 'vitest';
import {jsonOf, snapdeck} from '../helpers/cli.js';
import {labWithVm, tempDir} from '../helpers/lab.js';

const POLICY = {
	name: 'nightly', vms: ['vm*'], maxChainDepth: 6,
	snapshots: {schedule: '0 */12 * * *', keep: 3, maxAge: '3d'},
	backups: {schedule: '0 2 * * *', rpo: '26h', verifyEvery: '3d', retention: {daily: 3}},
};

describe('snapdeck run, stepped through a simulated week with --now', () => {
	it('takes and expires the scheduled snapshots, backs up, prunes and verifies; the journal and health agree', async () => {
		const lab = await labWithVm('vm1', ['vda'], 64);
		const state = await tempDir();
		const configDir = await tempDir();
		await writeFile(path.join(configDir, 'config.json'), JSON.stringify({policies: [POLICY]}));
		const env = {SNAPDECK_CONNECT: `local:${lab.root}`, SNAPDECK_REPO: path.join(state, 'repo'), SNAPDECK_CONFIG_DIR: configDir, SNAPDECK_JOURNAL: path.join(state, 'journal.jsonl')};
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
		expect(tree.snapshots.map(snapshot => snapshot.name)).toEqual(['auto-20261206-120000', 'auto-20261207-000000', 'auto-20261207-120000']);
		// A backup each day (due at 02:00, run at 06:00), pruned to the last 3 days.
		const backups = jsonOf(await run('backups', 'vm1', '--json')) as {points: Array<{createdAt: string; kind: string; verified: {at: string} | null}>};
		expect(backups.points.map(point => point.createdAt)).toEqual(['2026-12-05T06:00:00.000Z', '2026-12-06T06:00:00.000Z', '2026-12-07T06:00:00.000Z']);
		// Incremental all week, across the snapshots taken and merged between backups; prune made the oldest kept one a full.
		expect(backups.points.map(point => point.kind)).toEqual(['full', 'incremental', 'incremental']);
		expect(backups.points.some(point => point.verified !== null)).toBe(true);

		const log = jsonOf(await run('log', '--json', '--limit', '1000')) as {records: Array<{action: string; outcome: string}>};
		const done = (action: string) => log.records.filter(record => record.action === action && record.outcome === 'done').length;
		// Backups: one at the very first run (a task that never ran is due at once), then one a day.
		expect([done('take'), done('merge'), done('backup')]).toEqual([14, 11, 8]);
		expect(done('prune')).toBeGreaterThanOrEqual(1);
		expect(done('verify')).toBeGreaterThanOrEqual(2);

		const schedule = jsonOf(await run('schedule', '--json', '--now', last)) as {tasks: Array<{task: string; lastRun: string; nextRun: string}>};
		expect(schedule.tasks).toEqual([
			expect.objectContaining({task: 'snapshots', lastRun: '2026-12-07T12:00:00.000Z', nextRun: '2026-12-08T00:00:00.000Z'}),
			expect.objectContaining({task: 'backups', lastRun: '2026-12-07T06:00:00.000Z', nextRun: '2026-12-08T02:00:00.000Z'}),
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
		await writeFile(path.join(configDir, 'config.json'), JSON.stringify({policies: [{name: 'p', snapshots: {schedule: '0 * * * *'}}]}));
		const env = {SNAPDECK_CONNECT: `local:${lab.root}`, SNAPDECK_CONFIG_DIR: configDir, SNAPDECK_JOURNAL: path.join(state, 'journal.jsonl')};
		const holder = execa('sleep', ['60']);
		try {
			await mkdir(path.join(lab.folder, '.snapdeck'), {recursive: true});
			await writeFile(path.join(lab.folder, '.snapdeck', 'lock'), JSON.stringify({pid: holder.pid, host: os.hostname(), user: 'someone', command: 'snapdeck merge vm1 s1', since: new Date().toISOString()}));
			const skipped = await snapdeck(['run', '--now', '2026-12-01T00:30:00Z'], env);
			expect(skipped.exitCode).toBe(0);
			expect(skipped.stdout).toMatch(/vm1: snapshots skipped: VM 'vm1' is busy: locked by pid \d+ \(snapdeck merge vm1 s1\)/);
			const log = jsonOf(await snapdeck(['log', 'vm1', '--json'], env)) as {records: Array<{action: string; message: string}>};
			expect(log.records).toEqual([expect.objectContaining({action: 'schedule', message: expect.stringContaining('skipped, ')})]);
		} finally {
			holder.kill();
			await holder.catch(() => undefined);
		}
		const later = await snapdeck(['run', '--now', '2026-12-01T00:45:00Z'], env);
		expect(later.stdout).toContain("vm1: took snapshot 'auto-20261201-004500'");
	});

	it('prints the crontab line where there is no systemd, or the units with --dry-run', async () => {
		const result = await snapdeck(['schedule', 'install', '--dry-run']);
		expect(result.exitCode).toBe(0);
		expect(result.stdout).toMatch(/\*\/15 \* \* \* \* .*snapdeck\.js run|OnCalendar=\*:0\/15/);
	});
});
