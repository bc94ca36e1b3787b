import {access, rename} from 'node:fs/promises';
import path from 'node:path';
import {execa, type ResultPromise} from 'execa';
import {describe, expect, it} from 'vitest';
import {jsonLines, snapdeck} from '../helpers/cli.js';
import {agentOf, guestLab, stopAfterTest} from '../helpers/guest.js';

const BIN = path.resolve('bin/snapdeck');

/** The backing file a disk's header names now (qemu-img info -U on a running VM's disk), or null. */
async function backingOf(image: string): Promise<string | null> {
	const {stdout} = await execa('qemu-img', ['info', '-U', '--output=json', image]);
	return (JSON.parse(stdout) as {'full-backing-filename'?: string})['full-backing-filename'] ?? null;
}

/** Resolves when a `restore --instant --json` reports its stream's step (its VM runs by then). */
function streamBegun(restore: ResultPromise): Promise<void> {
	return new Promise((resolve, reject) => {
		let seen = '';
		restore.stdout!.on('data', (chunk: Buffer) => {
			seen += chunk.toString();
			if (seen.split('\n').some(line => line.includes('"type":"step"') && line.includes('"index":1'))) resolve();
		});
		restore.once('exit', () => reject(new Error(`the restore ended before its stream began: ${seen}`)));
	});
}

describe('restore --instant, with the real Linux guest', () => {
	it('the new VM boots at once from the point and keeps running while its data streams in; prune waits; then the repository can go away', async () => {
		const lab = await guestLab('src1');
		const env = {SNAPDECK_CONNECT: `local:${lab.root}`, SNAPDECK_REPO: lab.repo};
		expect((await snapdeck(['backup', 'src1'], env)).exitCode).toBe(0);
		const point = (jsonLines(await snapdeck(['backup', 'src1', '--json'], env)).at(-1)!['point'] as {id: string}).id;
		const began = Date.now();
		// 8 MiB/s over the 256 MiB disk: about 30 s of streaming, long enough to watch the VM run meanwhile, even on a busy machine.
		const restore = execa(
			BIN,
			['restore', 'src1', '--point', point, '--instant', '--as', 'fast1', '--limit', '8', '--json'],
			{env: {...process.env, ...env, NO_COLOR: '1'}, reject: false},
		);
		stopAfterTest(lab.root, 'fast1');
		// While it streams (the VM started first), the disk reads the point and prune waits; checked
		// at the stream's start, since on a busy machine the guest's boot can outlast the stream.
		await streamBegun(restore);
		const disk = path.join(lab.root, 'fast1', 'vda.qcow2');
		expect(await backingOf(disk)).toContain(path.join(lab.repo, 'src1'));
		const prune = await snapdeck(['prune', 'src1', '--keep-last', '1', '--yes'], env);
		expect(prune.exitCode).not.toBe(0);
		expect(prune.stderr).toContain('fast1 was restored instantly and still reads its points');
		const agent = await agentOf(path.join(lab.root, 'fast1', 'agent.sock'));
		const bootedAfter = Date.now() - began;
		expect(await agent.execute('guest-ping')).toEqual({});
		agent.close();

		const result = await restore;
		expect(result.exitCode, result.stderr).toBe(0);
		const streamedAfter = Date.now() - began;
		console.info(
			`instant restore: the guest agent answered ${bootedAfter} ms after the command began; the stream ended after ${streamedAfter} ms`,
		);
		expect(await backingOf(disk)).toBeNull();
		// The repository moved away: the new VM does not notice; it writes and syncs on.
		await rename(lab.repo, `${lab.repo}-moved`);
		const after = await agentOf(path.join(lab.root, 'fast1', 'agent.sock'));
		expect(
			(await after.exec('/bin/sh', ['-c', 'echo on > /data/after-move && sync && cat /data/after-move'], 20_000))
				.stdout,
		).toBe('on\n');
		after.close();
		await rename(`${lab.repo}-moved`, lab.repo);
		await expect(access(path.join(lab.repo, 'src1', '.snapdeck', 'instant', 'fast1.json'))).rejects.toThrow();
	}, 300_000);

	it('killed while it streams, the VM runs on from the repository; recover finishes the stream and lets prune in again', async () => {
		const lab = await guestLab('src2');
		const env = {SNAPDECK_CONNECT: `local:${lab.root}`, SNAPDECK_REPO: lab.repo};
		expect((await snapdeck(['backup', 'src2'], env)).exitCode).toBe(0);
		const point = (jsonLines(await snapdeck(['backup', 'src2', '--json'], env)).at(-1)!['point'] as {id: string}).id;
		const restore = execa(
			BIN,
			['restore', 'src2', '--point', point, '--instant', '--as', 'fast2', '--limit', '8', '--json'],
			{env: {...process.env, ...env, NO_COLOR: '1'}, reject: false},
		);
		stopAfterTest(lab.root, 'fast2');
		// Killed as its stream begins (the VM started, its disk still on the point), not after the
		// guest's boot: on a busy machine a boot under emulation can outlast the whole stream.
		await streamBegun(restore);
		restore.kill('SIGKILL');
		await restore;
		const disk = path.join(lab.root, 'fast2', 'vda.qcow2');
		expect(await backingOf(disk)).toContain(path.join(lab.repo, 'src2'));
		expect((await snapdeck(['prune', 'src2', '--keep-last', '1', '--yes'], env)).stderr).toContain(
			'fast2 was restored instantly',
		);
		// Still running, from the repository.
		const agent = await agentOf(path.join(lab.root, 'fast2', 'agent.sock'));
		expect(await agent.execute('guest-ping')).toEqual({});
		agent.close();
		const recovered = await snapdeck(['recover', 'fast2'], env);
		expect(recovered.exitCode, recovered.stderr).toBe(0);
		expect(await backingOf(disk)).toBeNull();
		expect((await snapdeck(['prune', 'src2', '--keep-last', '1', '--yes'], env)).exitCode).toBe(0);
	}, 300_000);
});
