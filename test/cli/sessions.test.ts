import {readFile, writeFile} from 'node:fs/promises';
import path from 'node:path';
import {describe, expect, it, vi} from 'vitest';
import {tempDir} from '../helpers/lab.js';
import {memoryCliLab, runCli} from '../helpers/memory-cli.js';

vi.mock('../../source/adapters/connect.js', async original =>
	(await import('../helpers/memory-cli.js')).memoryConnect(await original()),
);

/**
 * Which connection, repository and arguments a command works with, and its words when they are
 * wrong: in-process, on the in-memory hypervisor. test/e2e/connections.test.ts, schedule.test.ts and
 * backup-cli.test.ts keep what real labs, repositories and backups show.
 */
describe('connections and arguments', () => {
	it('a command on one VM refuses several connections, and an unknown name says which it knows', async () => {
		const east = memoryCliLab('east1');
		const west = memoryCliLab('west1');
		const configDir = await tempDir();
		await writeFile(
			path.join(configDir, 'config.json'),
			JSON.stringify({
				connections: {east: east.hypervisor.uri, west: west.hypervisor.uri},
				defaultConnection: ['east', 'west'],
			}),
		);
		const run = (...args: string[]) =>
			runCli(args, {SNAPDECK_CONFIG_DIR: configDir, SNAPDECK_REPO: path.join(configDir, 'repo')});
		const take = await run('snapshot', 'east1', 's1', '--yes');
		expect(take.exitCode).toBe(2);
		expect(take.stderr).toContain('this command works on one connection, and 2 are chosen');
		expect(east.hypervisor.definitionOf('east1').snapshots).toEqual([]);
		expect((await run('snapshot', 'east1', 's1', '--yes', '--connect', 'east')).exitCode).toBe(0);
		expect(east.hypervisor.definitionOf('east1').snapshots.map(snapshot => snapshot.name)).toEqual(['s1']);
		const unknown = await run('list', '--connect', 'north');
		expect(unknown.exitCode).toBe(2);
		expect(unknown.stderr).toContain("'north' is neither a connection URI nor a connection named in");
		expect(unknown.stderr).toContain('named connections: east, west');
	});

	it('schedule install refuses two connections and a --via it does not know; schedule list points to a README section that exists', async () => {
		const two = await runCli([
			'schedule',
			'install',
			'--dry-run',
			'--via',
			'cron',
			'--connect',
			'local:/a',
			'--connect',
			'local:/b',
		]);
		expect([two.exitCode, two.stderr]).toEqual([2, expect.stringContaining("'snapdeck run' works on one connection")]);
		expect((await runCli(['schedule', 'install', '--via', 'anacron'])).exitCode).toBe(2);
		const lab = memoryCliLab();
		const listed = await runCli(['schedule', ...lab.connect]);
		const section = /\("([^"]+)" in the README\)/.exec(listed.stdout)?.[1];
		expect(section).toBeDefined();
		expect((await readFile('README.md', 'utf8')).split('\n')).toContain(`## ${section}`);
	});

	it('backup, prune and restore refuse arguments that cannot work, and say what to do', async () => {
		const lab = memoryCliLab();
		const repo = path.join(await tempDir(), 'repo');
		const run = (...args: string[]) => runCli(args, {SNAPDECK_CONNECT: lab.hypervisor.uri, SNAPDECK_REPO: repo});
		expect((await run('backup', 'vm1', '--full', '--incremental')).exitCode).toBe(2);
		for (const name of ['a b', '$(touch x)', '../vm1', '-rf', 'vm;1']) {
			const result = await run('backup', '--', name);
			expect(result.exitCode, name).toBe(2);
		}
		expect((await run('backup', 'nosuchvm')).stderr).toContain("there is no VM 'nosuchvm'");
		expect((await run('prune', 'vm1')).stderr).toContain(
			"prune needs --keep-... rules, and vm1's policy ('default') sets no backups.retention",
		);
		expect((await run('restore', 'vm1', '--to', '/tmp/x')).stderr).toContain('restore needs --point ID');
		expect((await run('restore', 'vm1', '--point', 'nope', '--to', '/tmp/x')).stderr).toContain(
			"vm1 has no backup point 'nope'",
		);
		// Where the restore goes: all three ways are named, before the point is even looked up.
		for (const where of [[], ['--to', '/tmp/x', '--as', 'vm2']]) {
			const unplaced = await run('restore', 'vm1', '--point', 'nope', ...where);
			expect(unplaced.exitCode, where.join(' ')).toBe(2);
			expect(unplaced.stderr).toContain('restore needs one of --to PATH, --as NAME or --in-place');
			expect(unplaced.stderr).toContain('snapdeck restore vm1 --point nope --to PATH');
		}
		expect(lab.hypervisor.definitionOf('vm1').snapshots).toEqual([]);
	});
});
