import {mkdir, readdir} from 'node:fs/promises';
import path from 'node:path';
import {execa} from 'execa';
import {describe, expect, it} from 'vitest';
import {jsonLines} from '../helpers/cli.js';
import {MiB, qemuIo, tempDir} from '../helpers/lab.js';
import {runningLab} from '../helpers/live.js';
import {writeVmFile} from '../../source/adapters/local/vm-file.js';

const BIN = path.resolve('bin/snapdeck');
const A = 0xa1;
const B = 0xb2;

type Lab = Awaited<ReturnType<typeof runningLab>>;

/** snapdeck's own jobs and backup target nodes in the VM's QEMU. */
async function leftovers(lab: Lab) {
	const client = await lab.qmp();
	try {
		const jobs = await client.execute<Array<{id: string; status: string}>>('query-jobs');
		const nodes = await client.execute<Array<{'node-name': string}>>('query-named-block-nodes', {flat: true});
		return [
			...jobs.filter(job => job.id.startsWith('snapdeck-')).map(job => `job ${job.status}`),
			...nodes.filter(node => node['node-name'].startsWith('snapdeck-target-')).map(node => node['node-name']),
		];
	} finally {
		client.close();
	}
}

const cli = (lab: Lab, args: string[], env: Record<string, string> = {}) =>
	execa(BIN, [...args, '--connect', `local:${lab.root}`], {reject: false, env: {NO_COLOR: '1', ...env}});

describe('what a killed snapdeck leaves in a running QEMU is cleared before the next live operation', () => {
	it('a live merge killed while QEMU commits the active layer: recover finishes it', async () => {
		const lab = await runningLab();
		await lab.guestWrite(A, 8, 'vda', 32);
		await lab.take('s1');
		await lab.guestWrite(B, 1);
		const crashed = await cli(lab, ['merge', 'live1', 's1', '--yes'], {SNAPDECK_CRASH_AT: 'job:block-commit'});
		expect(crashed.signal).toBe('SIGKILL');
		expect(await leftovers(lab)).toEqual([expect.stringMatching(/^job (ready|running)$/)]);
		const recovered = await cli(lab, ['recover', 'live1']);
		expect(recovered.exitCode, recovered.stderr).toBe(0);
		expect(await leftovers(lab)).toEqual([]);
		expect(await lab.liveTops()).toEqual({vda: 'vda.qcow2'});
		expect((await lab.vmFile()).snapshots).toEqual([]);
		expect([await lab.reads(A, 8), await lab.reads(B, 1)]).toEqual([true, true]);
		// And the next live operation works on the chain QEMU now has.
		expect((await cli(lab, ['snapshot', 'live1', 's2', '--yes'])).exitCode).toBe(0);
		expect(await lab.liveTops()).toEqual({vda: 'vda.s2.qcow2'});
	});

	it('a live backup killed while QEMU copies: the next backup runs, and its point reads as the disk', async () => {
		const lab = await runningLab();
		await lab.guestWrite(A, 8, 'vda', 48);
		const repo = path.join(await tempDir(), 'repo');
		// Slowed to 4 MiB/s so that the copy is still running when snapdeck dies.
		const crashed = await cli(lab, ['backup', 'live1', '--repo', repo, '--limit', '4'], {
			SNAPDECK_CRASH_AT: 'job:backup',
		});
		expect(crashed.signal).toBe('SIGKILL');
		expect(await leftovers(lab)).toEqual(expect.arrayContaining(['snapdeck-target-vda']));
		const next = await cli(lab, ['backup', 'live1', '--repo', repo, '--json']);
		expect(next.exitCode, next.stderr).toBe(0);
		expect(await leftovers(lab)).toEqual([]);
		const point = jsonLines({exitCode: 0, stdout: next.stdout, stderr: '', signal: undefined}).at(-1)!['point'] as {
			files: Array<{file: string}>;
		};
		const file = path.join(repo, 'live1', point.files[0]!.file);
		expect(await qemuIo.holds(file, A, 8 * MiB, 48 * MiB)).toBe(true);
	});

	it('a live snapshot after a live merge of the active layer, on a VM started on an overlay', async () => {
		const lab = await runningLab();
		await lab.guestWrite(A, 8, 'vda', 32);
		await lab.take('s1');
		// Started again: QEMU now opens vda.s1.qcow2 and finds vda.qcow2 through its header.
		expect((await cli(lab, ['stop', 'live1'])).exitCode).toBe(0);
		expect((await cli(lab, ['start', 'live1'])).exitCode).toBe(0);
		await lab.guestWrite(B, 1);
		const merged = await cli(lab, ['merge', 'live1', 's1', '--yes']);
		expect(merged.exitCode, merged.stderr).toBe(0);
		const taken = await cli(lab, ['snapshot', 'live1', 's2', '--yes']);
		expect(taken.exitCode, taken.stderr).toBe(0);
		expect(await lab.liveTops()).toEqual({vda: 'vda.s2.qcow2'});
		expect([await lab.reads(A, 8), await lab.reads(B, 1)]).toEqual([true, true]);
	});

	it("a vm.json whose qmp names another VM's socket: stop, snapshot and backup refuse, and that VM runs on untouched", async () => {
		const lab = await runningLab();
		const other = path.join(lab.root, 'vm2');
		await mkdir(other);
		await execa('qemu-img', ['create', '-q', '-f', 'qcow2', path.join(other, 'vda.qcow2'), '64M']);
		await writeVmFile(other, {
			version: 1,
			name: 'vm2',
			description: '',
			current: null,
			snapshots: [],
			disks: [{target: 'vda', file: 'vda.qcow2'}],
			qmp: path.join(lab.folder, 'qmp.sock'),
			qemu: {machine: 'q35', memoryMiB: 128, args: []},
		});
		const topsBefore = await lab.liveTops();
		for (const args of [
			['stop', 'vm2'],
			['snapshot', 'vm2', 's1', '--yes'],
			['backup', 'vm2', '--repo', path.join(await tempDir(), 'repo')],
		]) {
			const run = await cli(lab, args);
			expect(run.exitCode, args.join(' ')).toBe(1);
			// (Or, on a machine too loaded for the monitor to greet in time, a refusal that says so.)
			expect(run.stderr, args.join(' ')).toMatch(/it is another VM's|monitor .* did not answer/);
		}
		expect(await lab.isRunning()).toBe(true);
		expect(await lab.liveTops()).toEqual(topsBefore);
		expect((await lab.vmFile()).snapshots).toEqual([]);
		expect(await readdir(other)).toEqual(expect.not.arrayContaining([expect.stringMatching(/s1/)]));
	});
});
