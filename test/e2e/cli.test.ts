import path from 'node:path';
import {describe, expect, it} from 'vitest';
import {execa} from 'execa';
import {jsonOf, snapdeck, type CliResult} from '../helpers/cli.js';
import {labWithVm, tempDir} from '../helpers/lab.js';

/*
 * The binary on the demo lab: real images and a running QEMU. The changing commands' words, flags
 * and JSON lines, and help, are test/cli/changing-commands.test.ts's (in-process, on the in-memory
 * hypervisor); what a take, revert or merge does to real images is the contract's (test/contract/).
 */
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
	expect(jsonOf(demo)).toEqual({
		dir,
		connect: `local:${dir}`,
		created: true,
		vms: ['web1', 'db1', 'app1', 'live1'],
		running: ['live1'],
	});

	// Not a terminal and no --json: only the path, for scripts.
	const again = await snapdeck(['demo', '--dir', dir]);
	expect(again.stdout).toBe(dir);
	// Built where the other commands do not look: how they reach it is said (on stderr), unless they already do.
	expect(again.stderr).toContain(`the other commands reach this lab with --connect local:${dir}`);
	const reached = await snapdeck(['demo', '--dir', dir], {SNAPDECK_CONNECT: `local:${dir}`});
	expect(reached.stdout).toBe(dir);
	expect(reached.stderr).not.toContain('reach this lab');

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
		['installed', null],
		['configured', 'installed'],
		['pre-upgrade', 'configured'],
		['hotfix', 'configured'],
	]);
	expect(snapshots[0]).toEqual(
		expect.objectContaining({kind: 'external', description: 'fresh OS install', createdAt: expect.any(String)}),
	);

	const text = await snapdeck(['tree', 'web1', '--connect', `local:${dir}`]);
	expect(text.stdout).toContain('   ├─ pre-upgrade');
	expect(text.stdout).toMatch(/└─ hotfix .*<- you are here/);
}

describe('a revert plan on real images', () => {
	it('says what the overlay it discards holds: no data for an empty one, the data written since otherwise', async () => {
		const lab = await labWithVm('vm1', ['vda'], 64);
		await lab.take('s1');
		const discards = async () => {
			const run = await snapdeck(['revert', 'vm1', 's1', '--dry-run', '--connect', `local:${lab.root}`]);
			expect(run.exitCode, run.stderr).toBe(0);
			return run.stdout.split('\n').filter(line => line.startsWith('Discards:'));
		};
		// An empty qcow2 overlay is ~200 KiB on disk (its header and tables), and holds nothing.
		expect(await discards()).toEqual(["Discards: vda.s1.qcow2: the data of vda written since 's1' (no data)"]);
		await lab.write(0x5a, 3);
		await lab.write(0x5b, 10);
		expect(await discards()).toEqual(["Discards: vda.s1.qcow2: the data of vda written since 's1' (2.0 MiB)"]);
	});
});
