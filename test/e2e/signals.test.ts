import {chmod, readdir, writeFile} from 'node:fs/promises';
import path from 'node:path';
import {execa} from 'execa';
import {afterEach, describe, expect, it} from 'vitest';
import {labWithVm, tempDir} from '../helpers/lab.js';

const BIN = path.resolve('bin/snapdeck.js');
const stuck: string[] = [];
afterEach(async () => {
	for (const script of stuck.splice(0)) await execa('pkill', ['-f', script], {reject: false});
});

describe('SIGTERM and SIGINT always end snapdeck within seconds', () => {
	it.each(['SIGTERM', 'SIGINT'] as const)('%s during a step that ignores its cancel: the process ends, no lock is left, recover finishes the operation', async signal => {
		const lab = await labWithVm();
		await lab.write(0x21, 0);
		// A qemu-img whose 'create' ignores every signal, as a process stuck in the kernel would.
		const script = path.join(await tempDir(), 'stuck-qemu-img');
		await writeFile(script, '#!/bin/sh\nif [ "$1" = create ]; then trap "" TERM INT HUP; sleep 20; exit 1; fi\nexec qemu-img "$@"\n');
		await chmod(script, 0o755);
		stuck.push(script);
		const run = execa('node', [BIN, 'snapshot', 'vm1', 's1', '--yes', '--connect', `local:${lab.root}`], {reject: false, env: {SNAPDECK_QEMU_IMG: script, NO_COLOR: '1'}});
		// Wait until the stuck step runs.
		for (let i = 0; i < 200 && (await execa('pgrep', ['-f', `${script} create`], {reject: false})).exitCode !== 0; i++) await new Promise(resolve => setTimeout(resolve, 50));
		const sent = Date.now();
		process.kill(run.pid!, signal); // not run.kill(): execa would follow it with a SIGKILL after 5 s
		const result = await run;
		const took = Date.now() - sent;
		expect([result.exitCode, result.signal], result.stderr).toEqual([signal === "SIGTERM" ? 143 : 130, undefined]);
		expect(result.stderr).toContain('stopped without waiting for the job to reach a safe point');
		expect(took).toBeLessThan(15_000);
		expect(await readdir(path.join(lab.folder, '.snapdeck'))).not.toContain('lock');
		expect(await readdir(path.join(lab.folder, '.snapdeck'))).toContain('pending.json');
		const recover = await execa('node', [BIN, 'recover', 'vm1', '--connect', `local:${lab.root}`], {reject: false});
		expect(recover.exitCode, recover.stderr).toBe(0);
		expect((await lab.vmFile()).current).toBe('s1');
		expect(await lab.reads(0x21, 0)).toBe(true);
	}, 60_000);
});
