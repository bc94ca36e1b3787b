import {randomBytes} from 'node:crypto';
import {closeSync, constants, openSync, readFileSync, rmSync} from 'node:fs';
import {link, open, readdir, readFile, rename, rm} from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import {SnapdeckError} from '../../core/errors.js';
import {processAlive} from '../file-checks.js';
import {fileSystemError} from '../safe-fs.js';

export interface LockHolder {
	readonly pid: number;
	readonly host: string;
	readonly user: string;
	readonly command: string;
	readonly since: string;
	/** Unique to one acquisition: what a takeover and a release compare, never a pid alone. */
	readonly token?: string;
	/** The holder's start time in clock ticks since boot (/proc/PID/stat), so a reused pid is not taken for it. */
	readonly started?: number;
}

/** Whether a lock is held by this very process (one of its own jobs). */
export const heldHere = (holder: LockHolder | null) =>
	holder !== null && holder.pid === process.pid && holder.host === os.hostname();

export const describeHolder = (holder: LockHolder) =>
	`pid ${holder.pid} (${holder.command}), user ${holder.user} on ${holder.host}, since ${holder.since}`;

/** A process's start time from /proc (field 22 of stat), or undefined where there is no /proc. */
export async function processStartTime(pid: number): Promise<number | undefined> {
	const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => null);
	if (stat === null) return undefined;
	const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
	const started = Number(fields[19]);
	return Number.isSafeInteger(started) ? started : undefined;
}

type Record = LockHolder & {readonly token: string};
type Read =
	| {readonly kind: 'absent'}
	| {readonly kind: 'held'; readonly holder: Record}
	| {readonly kind: 'garbage'; readonly token: string; readonly ageMs: number};

/** Reads a lock or claim file without following a symlink placed where it lives. */
async function readLockFile(file: string): Promise<Read> {
	let handle;
	try {
		handle = await open(file, constants.O_RDONLY | constants.O_NOFOLLOW);
	} catch (error) {
		const code = (error as NodeJS.ErrnoException).code;
		if (code === 'ENOENT') return {kind: 'absent'};
		if (code === 'ELOOP')
			throw new SnapdeckError(
				'refused',
				`${file} is a symbolic link, which snapdeck never writes`,
				`remove it (rm ${file}) after checking what put it there`,
			);
		throw error;
	}
	try {
		const stat = await handle.stat();
		const text = await handle.readFile('utf8');
		// An older snapdeck wrote no token: the file's identity stands in for it.
		const token = `ino${stat.ino}-${String(stat.mtimeMs).replace('.', '_')}`;
		try {
			const holder = JSON.parse(text) as Partial<Record>;
			if (typeof holder.pid === 'number' && typeof holder.host === 'string')
				return {kind: 'held', holder: {...holder, token: holder.token ?? token} as Record};
		} catch {
			// Not a whole lock (an older snapdeck created it empty, then wrote it): judged by its age.
		}
		return {kind: 'garbage', token, ageMs: Date.now() - stat.mtimeMs};
	} finally {
		await handle.close();
	}
}

const tokenOf = (read: Read) =>
	read.kind === 'held' ? read.holder.token : read.kind === 'garbage' ? read.token : null;

/** Writes `record` to a temp file beside `file` and fsyncs it, for a link or rename into place. */
async function staged<T>(file: string, record: Record, place: (temp: string) => Promise<T>): Promise<T> {
	const temp = path.join(path.dirname(file), `.${path.basename(file)}.${randomBytes(6).toString('hex')}.tmp`);
	try {
		const handle = await open(temp, 'wx', 0o600);
		try {
			await handle.writeFile(`${JSON.stringify(record)}\n`);
			await handle.sync();
		} finally {
			await handle.close();
		}
	} catch (error) {
		await rm(temp, {force: true});
		throw fileSystemError(error, 'write the lock', file);
	}
	try {
		return await place(temp);
	} finally {
		await rm(temp, {force: true});
	}
}

/** Creates `file` holding `record`, whole, only if no file is there (link(2) is atomic): true when it did. */
const publish = (file: string, record: Record) =>
	staged(file, record, async temp => {
		try {
			await link(temp, file);
			return true;
		} catch (error) {
			if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false;
			throw error;
		}
	});

/**
 * Whether a lock's holder may still be at work: a process on another host always is (snapdeck
 * cannot see it); on this host, while its pid runs and, where recorded, started when it did.
 */
async function holderAlive(holder: Record, host: string): Promise<boolean> {
	if (holder.host !== host) return true;
	if (!(await processAlive(holder.pid))) return false;
	return holder.started === undefined || (await processStartTime(holder.pid)) === holder.started;
}

/** The locks this process holds (file -> token), for a last release when it must exit at once. */
const held = new Map<string, string>();

/**
 * Removes every lock this process holds, synchronously: for an exit that cannot wait for a job to
 * reach a safe point (a second Ctrl-C, a job that ignores its cancel). An unfinished plan keeps its
 * pending record, so the VM still refuses other changes until 'snapdeck recover'.
 */
export function releaseHeldLocksSync(): void {
	for (const [file, token] of held) {
		try {
			const fd = openSync(file, constants.O_RDONLY | constants.O_NOFOLLOW);
			try {
				if ((JSON.parse(readFileSync(fd, 'utf8')) as {token?: string}).token === token) rmSync(file, {force: true});
			} finally {
				closeSync(fd);
			}
		} catch {
			// Gone, or not ours any more: nothing to release.
		}
	}
	held.clear();
}

const busy = (what: string, file: string, message: string) =>
	new SnapdeckError(
		'locked',
		`${what} is busy: ${message}`,
		`wait for it to finish; if that process is gone for good, remove ${file}`,
	);

/** Who holds the lock at `file` now, if a live process does (a dead holder's lock holds nothing). */
export async function lockHolder(file: string): Promise<LockHolder | null> {
	const found = await readLockFile(file).catch(() => ({kind: 'absent'}) as const);
	if (found.kind !== 'held') return null;
	return (await holderAlive(found.holder, os.hostname())) ? found.holder : null;
}

/**
 * One operation per VM at a time: a lock file that names its holder, created whole and only where
 * none exists (a temp file linked into place). A lock whose holder died on this host is taken over
 * by exactly one process, however many try at once: each must first create the claim file
 * `LOCK.claim.TOKEN` for the dead holder's token (atomic, so one wins), then check that the lock
 * still holds that token before renaming its own over it. A claimant that dies is itself claimed
 * the same way (`LOCK.claim.ITS-TOKEN`). test/adapters/lock.test.ts races processes for it.
 */
export async function acquireLock(file: string, what: string, command: string): Promise<() => Promise<void>> {
	const host = os.hostname();
	const me: Record = {
		pid: process.pid,
		host,
		user: os.userInfo().username,
		command,
		since: new Date().toISOString(),
		token: randomBytes(12).toString('hex'),
		started: await processStartTime(process.pid),
	};
	const release = async () => {
		held.delete(file);
		const now = await readLockFile(file).catch(() => ({kind: 'absent'}) as const);
		// Nobody replaces a live holder's lock, so what reads as ours stays ours until it is removed.
		if (now.kind === 'held' && now.holder.token === me.token) await rm(file, {force: true});
	};
	const acquired = async () => {
		held.set(file, me.token);
		await removeSpentClaims(file);
		return release;
	};
	for (let attempt = 0; attempt < 8; attempt++) {
		if (await publish(file, me)) return acquired();
		const found = await readLockFile(file);
		if (found.kind === 'absent') continue;
		if (found.kind === 'held' && found.holder.host === host && found.holder.pid === process.pid) {
			// A job of this same snapdeck (another of the UI's jobs): nothing to remove, only to wait for.
			throw new SnapdeckError(
				'locked',
				`${what} is busy: this snapdeck is already at work on it (${found.holder.command})`,
				'wait for that job to end (the jobs panel shows it), or cancel it',
			);
		}
		if (found.kind === 'held' && (await holderAlive(found.holder, host)))
			throw busy(what, file, `locked by ${describeHolder(found.holder)}`);
		// A file that is not a whole lock was written by an older snapdeck, which created it empty first.
		if (found.kind === 'garbage' && found.ageMs < 5000)
			throw busy(what, file, 'another snapdeck is starting an operation on it');
		if (await takeOver(file, found, me, what)) return acquired();
	}
	throw new SnapdeckError(
		'locked',
		`could not lock ${what} (${file}): it kept changing hands`,
		'try again in a moment',
	);
}

/**
 * Claims left by a claimant that died after its takeover: spent once the lock is held anew (a
 * claim only ever names the token of a lock, or of a claim, from before), so the holder removes them.
 */
async function removeSpentClaims(file: string) {
	const prefix = `${path.basename(file)}.claim.`;
	const names = await readdir(path.dirname(file)).catch(() => []);
	for (const name of names)
		if (name.startsWith(prefix) && /^[\w-]+$/.test(name.slice(prefix.length)))
			await rm(path.join(path.dirname(file), name), {force: true});
}

/** Replaces the stale lock `stale` with `me` if this process wins its claim; false when the lock changed meanwhile. */
async function takeOver(file: string, stale: Read, me: Record, what: string): Promise<boolean> {
	const staleToken = tokenOf(stale)!;
	const claims: string[] = [];
	try {
		// Walk the claims: each names the token of the one it claims, the first is for the dead holder's.
		for (let token = staleToken, depth = 0; ; depth++) {
			if (depth > 32)
				throw new SnapdeckError(
					'locked',
					`could not lock ${what}: ${file} has a chain of ${depth} abandoned claims`,
					`remove ${file} and ${file}.claim.* once no snapdeck runs`,
				);
			const claim = `${file}.claim.${token}`;
			if (await publish(claim, me)) {
				claims.push(claim);
				break;
			}
			const claimant = await readLockFile(claim);
			if (claimant.kind === 'absent') return false; // a takeover finished since: look at the lock again
			if (claimant.kind === 'held' && (await holderAlive(claimant.holder, me.host))) {
				throw busy(what, file, `${describeHolder(claimant.holder)} is taking over the lock of a process that died`);
			}
			claims.push(claim);
			token = tokenOf(claimant)!;
		}
		// The claim is ours. Only a holder of a claim in this chain may replace a lock holding staleToken,
		// and every earlier claimant is dead: if the lock still holds it, it is ours to replace.
		if (tokenOf(await readLockFile(file)) !== staleToken) return false;
		await staged(file, me, temp => rename(temp, file));
		return true;
	} finally {
		// The claims are spent either way: a late claimant of the same token finds the lock changed.
		for (const claim of claims) await rm(claim, {force: true});
	}
}
