import {open, readFile, rm, stat} from 'node:fs/promises';
import os from 'node:os';
import {SnapdeckError} from '../core/errors.js';
import {processAlive} from './files.js';

export interface LockHolder {
	readonly pid: number;
	readonly host: string;
	readonly user: string;
	readonly command: string;
	readonly since: string;
}


export const describeHolder = (holder: LockHolder) =>
	`pid ${holder.pid} (${holder.command}), user ${holder.user} on ${holder.host}, since ${holder.since}`;

async function readHolder(file: string): Promise<LockHolder | undefined> {
	try {
		return JSON.parse(await readFile(file, 'utf8')) as LockHolder;
	} catch {
		return undefined;
	}
}

/**
 * One operation per VM at a time: an exclusive lock file that names its holder. A lock whose
 * holder died on this host is taken over; one held by a live process is refused with its name.
 */
export async function acquireLock(file: string, what: string, command: string): Promise<() => Promise<void>> {
	const me: LockHolder = {pid: process.pid, host: os.hostname(), user: os.userInfo().username, command, since: new Date().toISOString()};
	for (let attempt = 0; attempt < 3; attempt++) {
		try {
			const handle = await open(file, 'wx', 0o644);
			await handle.writeFile(`${JSON.stringify(me)}\n`);
			await handle.sync();
			await handle.close();
			return async () => {
				const holder = await readHolder(file);
				if (holder?.pid === me.pid && holder.since === me.since) await rm(file, {force: true});
			};
		} catch (error) {
			if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
		}
		const holder = await readHolder(file);
		if (holder && (holder.host !== me.host || (await processAlive(holder.pid)))) {
			throw new SnapdeckError('locked', `${what} is busy: locked by ${describeHolder(holder)}`, `wait for it to finish; if that process is gone for good, remove ${file}`);
		}
		if (!holder && Date.now() - (await stat(file).catch(() => ({mtimeMs: 0}))).mtimeMs < 5000) {
			// Just created by another process that has not written its name yet.
			throw new SnapdeckError('locked', `${what} is busy: another snapdeck is starting an operation on it`, 'try again in a moment');
		}
		// The holder is dead (or left an unreadable file long ago): take it over.
		await rm(file, {force: true});
	}
	throw new SnapdeckError('locked', `could not lock ${what} (${file})`);
}
