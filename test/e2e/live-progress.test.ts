import path from 'node:path';
import {execa} from 'execa';
import {describe, expect, it} from 'vitest';
import {runningLab} from '../helpers/live.js';

describe('progress of a live merge on the command line', () => {
	it('a 1 GiB layer: JSON progress lines arrive while the job runs, and the data is all there after', async () => {
		const lab = await runningLab('big1', ['vda'], 2048);
		await lab.guestWrite(0xa1, 0, 'vda', 1024);
		await lab.take('s1');
		// The same 1 GiB rewritten: merging s1 must copy a whole 1 GiB layer, whichever way it goes.
		await lab.guestWrite(0xb2, 0, 'vda', 1024);

		// Cold caches, as for a real merge of old data: otherwise 1 GiB is copied from memory in a blink.
		await execa('sh', ['-c', 'sync && echo 3 > /proc/sys/vm/drop_caches'], {reject: false});
		const started = performance.now();
		const arrivals: Array<{at: number; line: Record<string, unknown>}> = [];
		const child = execa(
			path.resolve('bin/snapdeck'),
			['merge', 'big1', 's1', '--yes', '--json', '--connect', `local:${lab.root}`],
			{reject: false, stdin: 'ignore', lines: true, buffer: false},
		);
		for await (const line of child.iterable())
			arrivals.push({at: performance.now() - started, line: JSON.parse(line as string) as Record<string, unknown>});
		const result = await child;
		expect(result.exitCode).toBe(0);

		const progress = arrivals.filter(arrival => arrival.line['type'] === 'progress');
		const end = arrivals.find(arrival => arrival.line['type'] === 'result')!;
		expect(progress.length).toBeGreaterThanOrEqual(2);
		expect(progress[0]!.line['bytesTotal']).toBeGreaterThanOrEqual(1024 * 1024 * 1024);
		const done = progress.map(arrival => arrival.line['bytesDone'] as number);
		expect(done).toEqual([...done].sort((a, b) => a - b));
		// They came as the job went, not in one burst at the end.
		expect(progress[0]!.at).toBeLessThan(end.at - 100);
		const moving = progress.find(
			arrival =>
				(arrival.line['bytesDone'] as number) > 0 &&
				(arrival.line['bytesDone'] as number) < (arrival.line['bytesTotal'] as number),
		);
		expect(moving?.line).toMatchObject({rate: expect.any(Number), eta: expect.any(Number)});
		expect(moving!.line['rate']).toBeGreaterThan(0);

		expect(await lab.isRunning()).toBe(true);
		expect(await lab.reads(0xb2, 0)).toBe(true);
		expect(await lab.reads(0xb2, 1023)).toBe(true);
	});
});
