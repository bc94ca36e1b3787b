import {chmod, readdir, writeFile} from 'node:fs/promises';
import path from 'node:path';
import {execa} from 'execa';
import {afterEach, describe, expect, it} from 'vitest';
import {labWithVm, tempDir} from '../helpers/lab.js';

const BIN = path.resolve('bin/snapdeck');
const stuck: string[] = [];
afterEach(async () => {
	for (const script of stuck.splice(0)) await execa('pkill', ['-f', script], {reject: false});
});

describe('SIGTERM and SIGINT always end snapdeck within seconds', () => {
	it.each(['SIGTERM', 'SIGINT'] as const)(
		'%s during a step that ignores its cancel: the process ends, no lock is left, recover finishes the operation',
		async signal => {
			const lab = await labWithVm();
			await lab.write(0x21, 0);
			// A qemu-img whose 'create' ignores every signal, as a process stuck in the kernel would.
			const script = path.join(await tempDir(), 'stuck-qemu-img');
			await writeFile(
				script,
				'#!/bin/sh\nif [ "$1" = create ]; then trap "" TERM INT HUP; sleep 20; exit 1; fi\nexec qemu-img "$@"\n',
			);
			await chmod(script, 0o755);
			stuck.push(script);
			const run = execa(BIN, ['snapshot', 'vm1', 's1', '--yes', '--connect', `local:${lab.root}`], {
				reject: false,
				env: {SNAPDECK_QEMU_IMG: script, NO_COLOR: '1'},
			});
			// Wait until the stuck step runs.
			for (
				let i = 0;
				i < 200 && (await execa('pgrep', ['-f', `${script} create`], {reject: false})).exitCode !== 0;
				i++
			)
				await new Promise(resolve => setTimeout(resolve, 50));
			const sent = Date.now();
			process.kill(run.pid!, signal); // not run.kill(): execa would follow it with a SIGKILL after 5 s
			const result = await run;
			const took = Date.now() - sent;
			expect([result.exitCode, result.signal], result.stderr).toEqual([signal === 'SIGTERM' ? 143 : 130, undefined]);
			expect(result.stderr).toContain('stopped without waiting for the job to reach a safe point');
			expect(took).toBeLessThan(15_000);
			expect(await readdir(path.join(lab.folder, '.snapdeck'))).not.toContain('lock');
			expect(await readdir(path.join(lab.folder, '.snapdeck'))).toContain('pending.json');
			const recover = await execa(BIN, ['recover', 'vm1', '--connect', `local:${lab.root}`], {reject: false});
			expect(recover.exitCode, recover.stderr).toBe(0);
			expect((await lab.vmFile()).current).toBe('s1');
			expect(await lab.reads(0x21, 0)).toBe(true);
		},
		60_000,
	);
});

describe('every external command that only reads or writes metadata has a time limit', () => {
	it('a qemu-img check that hangs (a dead NFS mount): health ends, saying which command and why', async () => {
		const lab = await labWithVm();
		const script = path.join(await tempDir(), 'hung-qemu-img');
		await writeFile(
			script,
			'#!/bin/sh\nif [ "$1" = check ]; then trap "" TERM INT HUP; exec sleep 30; fi\nexec qemu-img "$@"\n',
		);
		await chmod(script, 0o755);
		stuck.push(script);
		const started = Date.now();
		const health = await execa(BIN, ['health', '--connect', `local:${lab.root}`], {
			reject: false,
			env: {SNAPDECK_QEMU_IMG: script, SNAPDECK_METADATA_TIMEOUT_MS: '200', NO_COLOR: '1'},
		});
		expect(Date.now() - started).toBeLessThan(15_000); // check's limit is 15x the metadata limit
		expect(health.exitCode).toBe(2);
		expect(health.stdout).toContain('qemu-img check did not finish within 3 s and was stopped');
	});
});

describe('snapdeck stop', () => {
	it('stops a running VM through QMP quit at once, and through SIGTERM when its monitor is held by another client', async () => {
		const {runningLab} = await import('../helpers/live.js');
		const lab = await runningLab();
		expect((await execa(BIN, ['stop', 'live1', '--connect', `local:${lab.root}`], {reject: false})).exitCode).toBe(0);
		expect(await lab.isRunning()).toBe(false);

		expect((await execa(BIN, ['start', 'live1', '--connect', `local:${lab.root}`], {reject: false})).exitCode).toBe(0);
		const holder = await lab.qmp(); // QMP serves one client at a time: snapdeck's connect waits in vain
		try {
			const started = Date.now();
			const stop = await execa(BIN, ['stop', 'live1', '--connect', `local:${lab.root}`], {reject: false});
			expect(stop.exitCode, stop.stderr).toBe(0);
			// Not a speed figure (bench/ has those): it used to wait 10 s for nothing, then SIGKILL.
			expect(Date.now() - started).toBeLessThan(9000);
		} finally {
			holder.close();
		}
		expect(await lab.isRunning()).toBe(false);
	});
});
