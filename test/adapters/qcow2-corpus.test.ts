import {execFileSync} from 'node:child_process';
import {readFile, writeFile} from 'node:fs/promises';
import path from 'node:path';
import {describe, expect, it} from 'vitest';
import {SnapdeckError} from '../../source/core/errors.js';
import {headerChain, qcow2Info} from '../../source/adapters/qemu/qcow2-header.js';
import {MiB, qemuImg, tempDir} from '../helpers/lab.js';

/**
 * Damaged and hostile qcow2 headers: bytes of a real image's first clusters flipped at random
 * (seeded), and cut short. snapdeck reads headers itself (no qemu-img), so each must end in an
 * answer or a SnapdeckError (or the file system's own error), never a crash of another kind, a
 * hang, or a huge allocation.
 */
describe('a corpus of damaged qcow2 headers', () => {
	it('every damaged header is read or refused, never crashes the reader', async () => {
		const dir = await tempDir();
		const base = path.join(dir, 'base.qcow2');
		const top = path.join(dir, 'top.qcow2');
		await qemuImg.create(base, {size: 64 * MiB});
		await qemuImg.create(top, {backing: 'base.qcow2'});
		execFileSync('qemu-img', ['snapshot', '-c', 'snap1', top]);
		execFileSync('qemu-img', ['bitmap', '--add', top, 'snapdeck.0011aabb.20260101T000000Z']);
		const pristine = await readFile(top);
		let seed = 7;
		const next = () => {
			seed = (seed * 1_103_515_245 + 12_345) % 2_147_483_648;
			return seed / 2_147_483_648;
		};
		const outcomes = {read: 0, refused: 0};
		const victim = path.join(dir, 'victim.qcow2');
		for (let round = 0; round < 300; round++) {
			const bytes = Buffer.from(pristine);
			const flips = 1 + Math.floor(next() * 8);
			// The header, its extensions, the snapshot table and the bitmap directory live in the first clusters.
			const span = Math.min(bytes.length, 4 * 65_536);
			for (let flip = 0; flip < flips; flip++)
				bytes[Math.floor(next() * (round % 2 === 0 ? 512 : span))] = Math.floor(next() * 256);
			const cut = round % 10 === 9 ? Math.floor(next() * 600) : bytes.length;
			await writeFile(victim, bytes.subarray(0, cut));
			for (const read of [() => qcow2Info(victim), () => headerChain(victim, dir)]) {
				try {
					const result = await Promise.race([
						read(),
						new Promise((_, reject) => setTimeout(() => reject(new Error('hung')), 5000)),
					]);
					expect(result).toBeTruthy();
					outcomes.read++;
				} catch (error) {
					const known = error instanceof SnapdeckError || typeof (error as NodeJS.ErrnoException).code === 'string';
					expect(known, `round ${round}: ${(error as Error).stack}`).toBe(true);
					outcomes.refused++;
				}
			}
		}
		expect(outcomes.read + outcomes.refused).toBe(600);
		expect(outcomes.refused).toBeGreaterThan(20);
		console.log(`qcow2 corpus: 300 damaged headers, ${outcomes.read} reads answered, ${outcomes.refused} refused`);
	});
});
