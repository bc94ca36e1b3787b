import {randomBytes} from 'node:crypto';
import {lstat, mkdir, readdir, readFile, rm} from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import {processAlive} from './file-checks.js';

/**
 * guestfish's scratch folders (its HOME, libguestfs's temporary files, ls0/find0 replies) for a
 * listing, which is no job and has no work folder: `TMPDIR/snapdeck-guestfs-PID-START-RANDOM`,
 * private, named after the process that made it (its id and start time, so a reused id is not
 * taken for it). One that a killed snapdeck left is removed by the next listing or `recover`.
 */
const SCRATCH = /^snapdeck-guestfs-(\d+)-(\d+)-[0-9a-f]{12}$/;

/** When a process started, in clock ticks since boot (/proc/PID/stat field 22); 0 where /proc does not say. */
async function startTime(pid: number): Promise<number> {
	const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => null);
	if (stat === null) return 0;
	return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19] ?? 0);
}

/** A new private scratch folder of this process in `dir` (the system's temporary folder). */
export async function makeGuestfsScratch(dir = os.tmpdir()): Promise<string> {
	const folder = path.join(
		dir,
		`snapdeck-guestfs-${process.pid}-${await startTime(process.pid)}-${randomBytes(6).toString('hex')}`,
	);
	await mkdir(folder, {mode: 0o700});
	return folder;
}

/**
 * Removes the scratch folders in `dir` whose process is gone: only real folders (never a link)
 * owned by this user and named as makeGuestfsScratch names them. Says which it removed.
 */
export async function sweepGuestfsScratch(dir = os.tmpdir()): Promise<string[]> {
	const removed: string[] = [];
	const uid = process.getuid?.();
	for (const name of await readdir(dir).catch(() => [] as string[])) {
		const match = SCRATCH.exec(name);
		if (!match) continue;
		const folder = path.join(dir, name);
		const found = await lstat(folder).catch(() => null);
		if (!found?.isDirectory() || (uid !== undefined && found.uid !== uid)) continue;
		const pid = Number(match[1]);
		if ((await processAlive(pid)) && (await startTime(pid)) === Number(match[2])) continue;
		await rm(folder, {recursive: true, force: true});
		removed.push(folder);
	}
	return removed;
}
