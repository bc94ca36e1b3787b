import {readdir} from 'node:fs/promises';
import path from 'node:path';
import {execa} from 'execa';
import {describe, expect, it} from 'vitest';
import {jsonLines, jsonOf, snapdeck} from '../helpers/cli.js';
import {labWithVm, MiB, qemuImg, qemuIo, tempDir} from '../helpers/lab.js';

const BIN = path.resolve('bin/snapdeck');

async function cliLab() {
	const lab = await labWithVm('vm1', ['vda'], 256);
	const repo = path.join(await tempDir(), 'repo');
	const env = {SNAPDECK_CONNECT: `local:${lab.root}`, SNAPDECK_REPO: repo, NO_COLOR: '1'};
	return {lab, repo, env, run: (...args: string[]) => snapdeck(args, env)};
}

/** `snapdeck backup` capped at 16 MiB/s (so the copy takes seconds), once its bytes are moving. */
async function backupMoving(env: Record<string, string>) {
	const child = execa(BIN, ['backup', 'vm1', '--json', '--limit', '16'], {env, reject: false, stdin: 'ignore'});
	await new Promise<void>(resolve => {
		child.stdout!.on('data', (chunk: Buffer) => {
			if (/"type":"progress".*"bytesDone":[1-9]/.test(chunk.toString())) resolve();
		});
	});
	// Wrapped: an execa subprocess is a promise, and returning it from here would wait for its end.
	return {child};
}

async function daemonGone(root: string) {
	for (
		let waited = 0;
		(await execa('pgrep', ['-f', `qemu-storage-daemon.*${root}`], {reject: false})).exitCode === 0;
		waited += 50
	) {
		if (waited > 10_000) expect.fail('a qemu-storage-daemon outlived the snapdeck that started it');
		await new Promise(resolve => setTimeout(resolve, 50));
	}
}

describe('a backup killed in the middle', () => {
	it('stops cleanly on SIGHUP (the SSH session dropped): the repository as it was, nothing left running', async () => {
		const {lab, env, run} = await cliLab();
		await lab.write(0x31, 1);
		expect((await run('backup', 'vm1')).exitCode).toBe(0);
		await qemuIo.write(await lab.activeFile(), 0x32, 16 * MiB, 128 * MiB);
		const {child} = await backupMoving(env);
		child.kill('SIGHUP');
		const result = await child;
		expect(result.exitCode).toBe(1);
		expect(result.stderr).toMatch(/backup of vm1 was cancelled; the repository is as it was/);
		expect(
			(jsonOf(await run('backups', 'vm1', '--json'))['points'] as Array<{state: string}>).map(point => point.state),
		).toEqual(['complete']);
		await daemonGone(lab.root);
		expect((await run('backup', 'vm1', '--json')).exitCode).toBe(0);
	});

	it('leaves a partial point that the next run removes, and the next incremental misses nothing', async () => {
		const {lab, repo, env, run} = await cliLab();
		await lab.write(0x11, 1);
		expect((await run('backup', 'vm1')).exitCode).toBe(0);
		await qemuIo.write(await lab.activeFile(), 0x22, 16 * MiB, 128 * MiB);
		const {child} = await backupMoving(env);
		child.kill('SIGKILL');
		await child;
		// The storage daemon went with it (the kernel's parent-death signal), so nothing holds the
		// VM's image: it could start right away (qemu-img info without -U takes the image's lock).
		await daemonGone(lab.root);
		expect((await execa('qemu-img', ['info', await lab.activeFile()], {reject: false})).exitCode).toBe(0);
		const manifest = jsonOf(await run('backups', 'vm1', '--json'))['points'] as Array<{state: string}>;
		expect(manifest.map(point => point.state)).toEqual(['complete', 'partial']);

		const next = await run('backup', 'vm1', '--json');
		expect(next.exitCode).toBe(0);
		const point = jsonLines(next).at(-1)!['point'] as {kind: string; files: Array<{file: string}>};
		expect(point.kind).toBe('incremental');
		expect(await qemuImg.same(path.join(repo, 'vm1', point.files[0]!.file), await lab.activeFile())).toBe(true);
		expect((await readdir(path.join(repo, 'vm1', 'vda'))).length).toBe(2);
		expect((await execa('pgrep', ['-f', `qemu-storage-daemon.*${lab.root}`], {reject: false})).exitCode).toBe(1);
	});
});

describe('a prune killed at any step', () => {
	it('is finished by the next prune, and every kept point still restores as it was', async () => {
		const {lab, run, env} = await cliLab();
		const copies = await tempDir();
		const snapshots: string[] = [];
		for (const [index, mib] of [1, 2, 3, 4].entries()) {
			await lab.write(0x30 + index, mib);
			expect((await run('backup', 'vm1')).exitCode).toBe(0);
			snapshots.push(path.join(copies, `${index}.qcow2`));
			await qemuImg.convert(await lab.activeFile(), snapshots.at(-1)!);
		}
		const points = (jsonOf(await run('backups', 'vm1', '--json'))['points'] as Array<{id: string}>).map(
			point => point.id,
		);
		const plan = jsonOf(await run('prune', 'vm1', '--keep-last', '2', '--dry-run', '--json'))['plan'] as {
			steps: unknown[];
		};
		const steps = plan.steps.length;
		expect(steps).toBeGreaterThanOrEqual(4);
		const repoCopy = await tempDir();
		const pristine = path.join(repoCopy, 'pristine');
		await execa('cp', ['-a', env.SNAPDECK_REPO, pristine]);
		for (let step = 1; step <= steps; step++) {
			await execa('rm', ['-rf', env.SNAPDECK_REPO]);
			await execa('cp', ['-a', pristine, env.SNAPDECK_REPO]);
			const crashed = await snapdeck(['prune', 'vm1', '--keep-last', '2', '--yes'], {
				...env,
				SNAPDECK_CRASH_AT: `during:${step}`,
			});
			expect(crashed.signal, `step ${step}`).toBe('SIGKILL');
			expect((await run('backup', 'vm1')).stderr).toContain('unfinished prune');
			const finished = await run('prune', 'vm1', '--keep-last', '2', '--yes');
			expect(finished.stdout, `step ${step}`).toContain('finished the interrupted prune');
			const kept = (jsonOf(await run('backups', 'vm1', '--json'))['points'] as Array<{id: string}>).map(
				point => point.id,
			);
			expect(kept).toEqual(points.slice(2));
			expect((await run('verify', 'vm1')).exitCode, `step ${step}`).toBe(0);
			for (const index of [2, 3]) {
				const target = path.join(await tempDir(), `r${step}-${index}.qcow2`);
				expect((await run('restore', 'vm1', '--point', points[index]!, '--to', target)).exitCode).toBe(0);
				expect(await qemuImg.same(target, snapshots[index]!), `step ${step}, point ${index}`).toBe(true);
			}
		}
	});
});
