import {mkdir, readFile, writeFile} from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import {execa} from 'execa';
import {describe, expect, it} from 'vitest';
import {snapdeck} from '../helpers/cli.js';
import {labWithVm, MiB, qemuIo} from '../helpers/lab.js';

const A = 0xa1;
const B = 0xb2;
const C = 0xc3;

describe('two snapdeck merges started together on a stale lock', () => {
	it.each([1, 2, 3])(
		'round %i: never both at once (one is refused naming the holder, or they ran one after the other), and no data is lost',
		async () => {
			const lab = await labWithVm('vm1', ['vda'], 512);
			await lab.write(A, 1);
			await qemuIo.write(await lab.activeFile(), A, 256 * MiB, 128 * MiB); // both layers large: either merge takes a while
			await lab.take('s1');
			// s2's layer is large, so a merge takes long enough for the other command to meet its lock.
			await qemuIo.write(await lab.activeFile(), B, 8 * MiB, 192 * MiB);
			await lab.take('s2');
			await lab.write(C, 3);
			// Left by a snapdeck that was killed: its pid is gone.
			const dead = Number((await execa('sh', ['-c', 'sh -c "echo \\$\\$"'])).stdout);
			await mkdir(path.join(lab.folder, '.snapdeck'), {recursive: true});
			await writeFile(
				path.join(lab.folder, '.snapdeck', 'lock'),
				JSON.stringify({
					pid: dead,
					host: os.hostname(),
					user: 'ops',
					command: 'snapdeck merge vm1 old',
					since: '2026-11-01T00:00:00.000Z',
				}),
			);

			const connect = ['--connect', `local:${lab.root}`];
			const [first, second] = await Promise.all([
				snapdeck(['merge', 'vm1', 's1', '--yes', ...connect]),
				snapdeck(['merge', 'vm1', 's2', '--yes', ...connect]),
			]);
			const codes = [first.exitCode, second.exitCode].sort();
			if (codes[1] === 0) {
				// Both ran: then one after the other (a loaded machine started the second one late), never at once.
				const runs = (await readFile(path.join(lab.folder, '.snapdeck', 'journal.jsonl'), 'utf8'))
					.split('\n')
					.filter(Boolean)
					.map(line => JSON.parse(line) as {action: string; outcome: string; time: string})
					.filter(entry => entry.action === 'merge');
				expect(runs.map(entry => entry.outcome)).toEqual(['started', 'done', 'started', 'done']);
				expect((await lab.vmFile()).snapshots).toEqual([]);
			} else {
				expect(codes, `${first.stderr}\n${second.stderr}`).toEqual([0, 1]);
				const refused = first.exitCode === 1 ? first : second;
				expect(refused.stderr).toMatch(
					/VM 'vm1' is busy: (locked by pid \d+ \(snapdeck merge vm1 s[12]\)|pid \d+ \(snapdeck merge vm1 s[12]\), .* is taking over the lock)/,
				);
				// The one that ran merged its snapshot; the other is whole.
				expect((await lab.vmFile()).snapshots.map(snapshot => snapshot.name)).toEqual([
					first.exitCode === 0 ? 's2' : 's1',
				]);
			}
			// Every byte is where it was.
			const left = (await lab.vmFile()).snapshots.map(snapshot => snapshot.name);
			expect(await lab.imagesHealthy()).toBe(true);
			expect([
				await lab.reads(A, 1),
				await qemuIo.holds(await lab.activeFile(), B, 8 * MiB, 192 * MiB),
				await lab.reads(C, 3),
			]).toEqual([true, true, true]);
			if (left.length === 0) return;
			await lab.revert(left[0]!);
			expect(await lab.reads(A, 1)).toBe(true);
			expect(await qemuIo.holds(await lab.activeFile(), B, 8 * MiB, 192 * MiB)).toBe(left[0] === 's2');
			expect(await lab.reads(C, 3)).toBe(false);
		},
		120_000,
	);
});
