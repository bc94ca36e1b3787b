import {execFileSync} from 'node:child_process';
import {mkdtempSync, rmSync} from 'node:fs';
import {mkdir, readdir, readFile, symlink, utimes, writeFile} from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import {build} from 'esbuild';
import {execa} from 'execa';
import {afterAll, beforeAll, describe, expect, it} from 'vitest';
import {acquireLock} from '../../source/adapters/state/lock.js';
import type {SnapdeckError} from '../../source/core/errors.js';

let dir: string;
let worker: string;
beforeAll(async () => {
	dir = mkdtempSync(path.join(os.tmpdir(), 'snapdeck-lock-'));
	worker = path.join(dir, 'lock-worker.mjs');
	await build({
		entryPoints: ['test/helpers/lock-worker.ts'],
		outfile: worker,
		bundle: true,
		format: 'esm',
		platform: 'node',
		target: 'node20',
		logLevel: 'warning',
	});
});
afterAll(() => rmSync(dir, {recursive: true, force: true}));

/** The pid of a process that has exited (and been reaped): a dead holder. */
const deadPid = () => Number(execFileSync('sh', ['-c', 'sh -c "echo \\$\\$"']).toString().trim());

const staleHolder = (pid: number, token?: string) => ({
	pid,
	host: os.hostname(),
	user: 'root',
	command: 'merge (killed)',
	since: '2026-01-01T00:00:00.000Z',
	...(token ? {token} : {}),
});

describe('the VM lock', () => {
	it("is held by one process at a time even when eight race for a dead holder's lock, round after round", async () => {
		const workers = 8;
		const rounds = 150;
		const race = path.join(dir, 'race');
		await mkdir(race);
		const dead = deadPid();
		for (let round = 0; round < rounds; round++) {
			await mkdir(path.join(race, `hold-${round}`));
			const lock = path.join(race, `lock-${round}`);
			// Three kinds of stale lock: this version's, an older version's (no token), and an empty
			// file an older version created and died before writing.
			if (round % 3 === 2) {
				await writeFile(lock, '');
				await utimes(lock, new Date(Date.now() - 60_000), new Date(Date.now() - 60_000));
			} else {
				await writeFile(lock, JSON.stringify(staleHolder(dead, round % 3 === 0 ? `dead${round}` : undefined)));
			}
		}
		const runs = await Promise.all(
			Array.from({length: workers}, (_, id) =>
				execa('node', [worker, race, String(id), String(workers), String(rounds)]),
			),
		);
		const results = runs.flatMap(run =>
			run.stdout
				.split('\n')
				.filter(Boolean)
				.map(line => JSON.parse(line) as {round: number; got: boolean; others: number; error: string | null}),
		);
		expect(results).toHaveLength(workers * rounds);
		// Never two holders at once; every stale lock was taken over; a refusal is always "locked".
		expect(results.filter(result => result.others > 0)).toEqual([]);
		for (let round = 0; round < rounds; round++)
			expect(results.some(result => result.round === round && result.got)).toBe(true);
		expect(results.filter(result => result.error !== null && result.error !== 'locked')).toEqual([]);
		// Racing happened: most rounds had refusals (the winner held the lock while others tried).
		expect(results.filter(result => result.error === 'locked').length).toBeGreaterThan(rounds);
		// Nothing is left behind: no lock, no claim, no temp file.
		const left = (await readdir(race)).filter(name => !/^(ready|hold)-\d+$/.test(name));
		expect(left).toEqual([]);
	}, 180_000);

	it('refuses a live holder, naming it, and a lock file that is a symbolic link', async () => {
		const file = path.join(dir, 'live.lock');
		const release = await acquireLock(file, "VM 'web1'", 'merge web1 a');
		const holder = JSON.parse(await readFile(file, 'utf8')) as {pid: number; token: string};
		expect(holder.pid).toBe(process.pid);
		// Another job of this same process (the UI runs several): said as such, with nothing to remove.
		const same = await acquireLock(file, "VM 'web1'", 'take').catch((error: SnapdeckError) => error);
		expect(same).toMatchObject({
			kind: 'locked',
			message: "VM 'web1' is busy: this snapdeck is already at work on it (merge web1 a)",
		});
		expect((same as SnapdeckError).hint).not.toContain('remove');
		await release();
		await expect(readFile(file)).rejects.toThrow(/ENOENT/);

		const target = path.join(dir, 'elsewhere');
		await writeFile(target, JSON.stringify(staleHolder(deadPid(), 'x')));
		const link = path.join(dir, 'link.lock');
		await symlink(target, link);
		await expect(acquireLock(link, "VM 'web1'", 'take')).rejects.toThrow('is a symbolic link');
		expect(JSON.parse(await readFile(target, 'utf8')).token).toBe('x');
	});

	it('is taken over from a claimant that died in the middle of a takeover', async () => {
		const file = path.join(dir, 'claimed.lock');
		const dead = deadPid();
		await writeFile(file, JSON.stringify(staleHolder(dead, 'holder')));
		await writeFile(`${file}.claim.holder`, JSON.stringify(staleHolder(dead, 'claimant')));
		const release = await acquireLock(file, 'x', 'take');
		expect(JSON.parse(await readFile(file, 'utf8')).pid).toBe(process.pid);
		expect((await readdir(dir)).filter(name => name.startsWith('claimed.lock.'))).toEqual([]);
		await release();
	});
});
