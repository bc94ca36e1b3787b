import {readFile, writeFile} from 'node:fs/promises';
import path from 'node:path';
import {describe, expect, it} from 'vitest';
import {jsonLines, snapdeck} from '../helpers/cli.js';
import {guestLab, holdsAll, lastDurable, recordsIn, startGuest} from '../helpers/guest.js';
import {tempDir} from '../helpers/lab.js';

describe('a real guest writing durable records through live snapshot, backups and merge', () => {
	it('loses no record the guest was told was durable: on the disk afterwards, and in each backup point up to when it began', async () => {
		const lab = await guestLab('work1');
		const vmFile = path.join(lab.folder, 'vm.json');
		const vm = JSON.parse(await readFile(vmFile, 'utf8'));
		vm.qemu.kernel.append += ' snapdeck.workload=1';
		await writeFile(vmFile, JSON.stringify(vm));
		const env = {SNAPDECK_CONNECT: `local:${lab.root}`, SNAPDECK_REPO: lab.repo};
		const run = async (...args: string[]) => {
			const result = await snapdeck(args, env);
			expect(result.exitCode, `${args.join(' ')}: ${result.stderr}`).toBe(0);
			return result;
		};
		/** Waits until the guest has acknowledged `more` records beyond what it had; the newest acknowledged. */
		const writesOn = async (more: number) => {
			const from = lastDurable(await lab.console());
			const deadline = Date.now() + 120_000;
			while (lastDurable(await lab.console()) < from + more) {
				if (Date.now() > deadline)
					throw new Error(`the workload stalled at record ${lastDurable(await lab.console())}`);
				await new Promise(resolve => setTimeout(resolve, 200));
			}
			return lastDurable(await lab.console());
		};
		await startGuest(lab);
		await writesOn(20);
		await run('snapshot', 'work1', 'live', '--yes');
		const beforeFull = await writesOn(20);
		const full = jsonLines(await run('backup', 'work1', '--full', '--json')).at(-1)!['point'] as {id: string};
		const beforeIncremental = await writesOn(20);
		const incremental = jsonLines(await run('backup', 'work1', '--json')).at(-1)!['point'] as {
			id: string;
			kind: string;
		};
		expect(incremental.kind).toBe('incremental');
		await writesOn(20);
		await run('merge', 'work1', 'live', '--yes');
		const acknowledged = await writesOn(20);
		await run('stop', 'work1');

		const disk = await recordsIn(path.join(lab.folder, JSON.parse(await readFile(vmFile, 'utf8')).disks[0].file));
		const counts = {acknowledged, onDisk: disk.seqs.length, beforeFull, beforeIncremental};
		console.info(`workload: ${JSON.stringify(counts)}`);
		expect(holdsAll(disk.seqs, acknowledged), JSON.stringify(counts)).toBe(true);
		// A torn line can only be one written after the last acknowledgement, never before.
		expect(disk.bad.length).toBeLessThanOrEqual(1);
		// Each point holds every record acknowledged before its backup began.
		for (const [point, upTo] of [
			[full.id, beforeFull],
			[incremental.id, beforeIncremental],
		] as const) {
			const restored = path.join(await tempDir(), `${point}.qcow2`);
			await run('restore', 'work1', '--point', point, '--to', restored);
			const inPoint = await recordsIn(restored);
			expect(holdsAll(inPoint.seqs, upTo), `point ${point}: ${inPoint.seqs.length} records, want 1-${upTo}`).toBe(true);
		}
	}, 300_000);
});
