import {readdir, readFile} from 'node:fs/promises';
import path from 'node:path';
import {describe, expect, it} from 'vitest';
import {execa} from 'execa';
import {jsonLines, jsonOf, snapdeck, type CliResult} from '../helpers/cli.js';
import {labWithVm, tempDir} from '../helpers/lab.js';

describe('snapdeck demo, list and tree', () => {
	it('builds the demo lab and describes it in the documented JSON shapes', async () => {
		const dir = path.join(await tempDir(), 'lab');
		const demo = await snapdeck(['demo', '--dir', dir, '--json']);
		try {
			await demoChecks(dir, demo);
		} finally {
			// Stopping the lab leaves no QEMU behind.
			const stop = await snapdeck(['stop', '--all', '--json', '--connect', `local:${dir}`]);
			expect(jsonOf(stop)).toEqual({stopped: ['live1']});
			expect((await execa('pgrep', ['-f', '--', `-name live1 .*${dir}`], {reject: false})).exitCode).toBe(1);
		}
	});
});

async function demoChecks(dir: string, demo: CliResult) {
	expect(demo.exitCode).toBe(0);
	expect(jsonOf(demo)).toEqual({dir, connect: `local:${dir}`, created: true, vms: ['web1', 'db1', 'app1', 'live1'], running: ['live1']});

	// Not a terminal and no --json: only the path, for scripts.
	const again = await snapdeck(['demo', '--dir', dir]);
	expect(again.stdout).toBe(dir);

	const list = await snapdeck(['list', '--json', '--connect', `local:${dir}`]);
	expect(list.exitCode).toBe(0);
	const vms = jsonOf(list)['vms'] as Array<Record<string, unknown>>;
	expect(vms.map(vm => vm['name'])).toEqual(['app1', 'db1', 'live1', 'web1']);
	expect(vms.find(vm => vm['name'] === 'live1')).toMatchObject({state: 'running', snapshots: 1});
	const web1 = vms.find(vm => vm['name'] === 'web1')!;
	expect(web1).toMatchObject({state: 'stopped', snapshots: 4, current: 'hotfix', error: null});
	expect(web1['chainDepth']).toBeGreaterThanOrEqual(3);
	expect(web1['disks']).toEqual([expect.objectContaining({target: 'vda', file: 'vda.hotfix.qcow2'})]);
	expect((vms.find(vm => vm['name'] === 'app1')!['disks'] as unknown[]).length).toBe(2);

	const tree = await snapdeck(['tree', 'web1', '--json', '--connect', `local:${dir}`]);
	const shape = jsonOf(tree);
	expect(shape['vm']).toBe('web1');
	expect(shape['current']).toBe('hotfix');
	const snapshots = shape['snapshots'] as Array<Record<string, unknown>>;
	expect(snapshots.map(snapshot => [snapshot['name'], snapshot['parent']])).toEqual([
		['installed', null], ['configured', 'installed'], ['pre-upgrade', 'configured'], ['hotfix', 'configured'],
	]);
	expect(snapshots[0]).toEqual(expect.objectContaining({kind: 'external', description: 'fresh OS install', createdAt: expect.any(String)}));

	const text = await snapdeck(['tree', 'web1', '--connect', `local:${dir}`]);
	expect(text.stdout).toContain('   ├─ pre-upgrade');
	expect(text.stdout).toMatch(/└─ hotfix .*<- you are here/);
}

describe('changing commands', () => {
	it('show the plan and change nothing with --dry-run; refuse to act unasked without a terminal', async () => {
		const lab = await labWithVm();
		await lab.take('s1');
		const before = await readFile(path.join(lab.folder, 'vm.json'), 'utf8');
		const files = await readdir(lab.folder);
		const connect = `local:${lab.root}`;

		const dry = await snapdeck(['merge', 'vm1', 's1', '--dry-run', '--connect', connect]);
		expect(dry.exitCode).toBe(0);
		expect(dry.stdout).toContain('Plan: merge away external snapshot');
		expect(dry.stdout).toContain('dry run: nothing was changed');

		const unasked = await snapdeck(['revert', 'vm1', 's1', '--connect', connect]);
		expect(unasked.exitCode).toBe(2);
		expect(unasked.stderr).toContain('pass --yes');

		expect(await readFile(path.join(lab.folder, 'vm.json'), 'utf8')).toBe(before);
		expect(await readdir(lab.folder)).toEqual(files);
	});

	it('stream progress as JSON lines and end with the result', async () => {
		const lab = await labWithVm();
		await lab.write(0x11, 1);
		await lab.take('s1');
		await lab.write(0x22, 2);
		const run = await snapdeck(['merge', 'vm1', 's1', '--yes', '--json', '--connect', `local:${lab.root}`]);
		expect(run.exitCode).toBe(0);
		const lines = jsonLines(run);
		expect(lines[0]).toMatchObject({type: 'step', index: 0, total: 3});
		expect(lines.filter(line => line['type'] === 'done')).toHaveLength(3);
		expect(lines.at(-1)).toMatchObject({type: 'result', outcome: 'done', plan: {action: 'merge', vm: 'vm1', snapshot: 's1'}});
		expect(await lab.reads(0x11, 1)).toBe(true);
		expect(await lab.reads(0x22, 2)).toBe(true);
	});

	it('take a snapshot with a description, internal on request', async () => {
		const lab = await labWithVm();
		const run = await snapdeck(['snapshot', 'vm1', 'before-upgrade', '--description', "it's \"quoted\"; $(x)", '--internal', '--yes', '--connect', `local:${lab.root}`]);
		expect(run.exitCode).toBe(0);
		const snapshot = (await lab.vmFile()).snapshots[0]!;
		expect(snapshot).toMatchObject({name: 'before-upgrade', kind: 'internal', description: "it's \"quoted\"; $(x)"});
	});
});

describe('help, from the command registry', () => {
	it('lists every command; each has its own help with its own options; a flag a command does not take is refused and changes nothing', async () => {
		const {COMMANDS} = await import('../../source/cli/commands/command-registry.js');
		const global = await snapdeck(['--help']);
		expect(global.exitCode).toBe(0);
		for (const command of COMMANDS) expect(global.stdout).toContain(`  snapdeck ${command.name}`);
		expect(global.stdout).toContain("'snapdeck help COMMAND'");

		const viaHelp = await snapdeck(['help', 'restore']);
		const viaFlag = await snapdeck(['restore', '--help']);
		expect(viaHelp.exitCode).toBe(0);
		expect(viaFlag.stdout).toBe(viaHelp.stdout);
		expect(viaHelp.stdout).toContain("Options of 'snapdeck restore':");
		expect(viaHelp.stdout).toMatch(/--in-place +over the stopped VM's own disks/);
		expect(viaHelp.stdout).not.toContain('--keep-daily');
		// A command without options of its own lists only those of every command.
		expect((await snapdeck(['help', 'tree'])).stdout).not.toContain("Options of 'snapdeck tree'");

		const unknown = await snapdeck(['help', 'frobnicate']);
		expect([unknown.exitCode, unknown.stderr]).toEqual([2, expect.stringContaining('the commands are: demo, list, tree')]);

		const lab = await labWithVm();
		const connect = ['--connect', `local:${lab.root}`];
		const wrong = await snapdeck(['snapshot', 'vm1', 's1', '--keep-daily', '3', '--yes', ...connect]);
		expect([wrong.exitCode, wrong.stderr]).toEqual([2, expect.stringContaining("'snapdeck snapshot' does not take --keep-daily")]);
		expect(wrong.stderr).toContain("see 'snapdeck help snapshot'");
		expect((await lab.vmFile()).snapshots).toEqual([]);
	});
});
