import {constants} from 'node:fs';
import {chmod, chown, lstat, mkdir, open, stat} from 'node:fs/promises';
import path from 'node:path';
import {SnapdeckError} from '../core/errors.js';
import {formatBytes} from '../core/units.js';

/** What a file system error means to an operator, and what to do about it. */
const ERRNO_WORDS: Record<string, {words: string; hint: (at: string) => string}> = {
	ENOENT: {
		words: 'a folder above it does not exist and cannot be created there',
		hint: at => `choose a place on a writable file system, or create the folders above ${at} first`,
	},
	EACCES: {
		words: 'permission denied',
		hint: at => `run snapdeck as a user who may write to ${at}, or choose another place`,
	},
	EPERM: {
		words: 'operation not permitted',
		hint: at => `run snapdeck as a user who may write to ${at}, or choose another place`,
	},
	EROFS: {words: 'the file system is read-only', hint: at => `remount it writable, or choose another place than ${at}`},
	ENOSPC: {
		words: 'no space is left on the device',
		hint: at => `free some space where ${at} lives (prune old backups: 'snapdeck prune VM'), then try again`,
	},
	EDQUOT: {words: 'the disk quota is used up', hint: at => `free some space where ${at} lives, or raise the quota`},
	ENOTDIR: {words: 'a part of the path is a file, not a folder', hint: at => `choose another place than ${at}`},
	ELOOP: {
		words: 'it is a symbolic link, which snapdeck never follows for its own files',
		hint: at => `remove the link ${at} after checking what put it there`,
	},
	EEXIST: {words: 'something else is already there', hint: at => `move ${at} away, or choose another place`},
};

/** The errno of a file system error, also when fileSystemError has worded it (as `errno`). */
const codeOf = (error: unknown) =>
	(error instanceof SnapdeckError ? (error as {errno?: string}).errno : (error as {code?: string} | null)?.code) ?? '';
/** The file system has no room for another byte (no space, or the quota is used up). */
export const isNoSpace = (error: unknown) => ['ENOSPC', 'EDQUOT'].includes(codeOf(error));
/** Nothing can be written there now: no room, or mounted read-only. */
export const isUnwritable = (error: unknown) => isNoSpace(error) || codeOf(error) === 'EROFS';

/** A file system error as a SnapdeckError that says what happened to what, and what to do; others as they are. */
export function fileSystemError(error: unknown, doing: string, at: string): unknown {
	const code = (error as NodeJS.ErrnoException | null)?.code;
	const known = code === undefined ? undefined : ERRNO_WORDS[code];
	if (!known || error instanceof SnapdeckError) return error;
	const noSpace = code === 'ENOSPC' || code === 'EDQUOT';
	return Object.assign(
		new SnapdeckError(
			'failed',
			`cannot ${doing} ${at}: ${known.words} (${code})`,
			known.hint(at),
			noSpace ? 'no-space' : undefined,
		),
		{errno: code},
	);
}

/**
 * Creates `dir` and the folders above it that are missing, each with `mode`, one level at a time
 * (Node's recursive mkdir loops forever where a folder cannot be made, as under /proc), and fails
 * at once with what is wrong and what to do.
 */
export async function makeDirs(dir: string, what: string, mode = 0o700): Promise<void> {
	const missing: string[] = [];
	for (let current = path.resolve(dir); ; current = path.dirname(current)) {
		const found = await stat(current).catch((error: NodeJS.ErrnoException) => {
			if (error.code === 'ENOENT') return null;
			throw fileSystemError(error, `create ${what}`, dir);
		});
		if (found) {
			if (!found.isDirectory())
				throw fileSystemError(Object.assign(new Error(), {code: 'ENOTDIR'}), `create ${what}`, dir);
			break;
		}
		missing.unshift(current);
		if (current === path.dirname(current)) break;
	}
	for (const folder of missing) {
		try {
			await mkdir(folder, {mode});
		} catch (error) {
			if (
				(error as NodeJS.ErrnoException).code === 'EEXIST' &&
				(await stat(folder).then(
					s => s.isDirectory(),
					() => false,
				))
			)
				continue;
			throw fileSystemError(error, `create ${what}`, dir);
		}
	}
}

/**
 * A folder for snapdeck's own state (lock, pending record, journal), created 0700 where missing and
 * refused when something put a symbolic link (or a file) in its place.
 */
export async function stateFolder(dir: string, what: string): Promise<string> {
	await makeDirs(dir, what);
	const found = await lstat(dir);
	if (!found.isDirectory())
		throw fileSystemError(
			Object.assign(new Error(), {code: found.isSymbolicLink() ? 'ELOOP' : 'ENOTDIR'}),
			`use ${what}`,
			dir,
		);
	return dir;
}

/**
 * Whether `dir` is there as a real folder: false where it is missing, refused where a symbolic
 * link (or a file) is in its place. For the folders snapdeck removes or changes things in (a
 * VM's backups, their archive/, boot/ and kit/): through a link they would be somewhere else.
 */
export async function realFolder(dir: string, what: string): Promise<boolean> {
	const found = await lstat(dir).catch((error: NodeJS.ErrnoException) => {
		if (error.code === 'ENOENT') return null;
		throw fileSystemError(error, `use ${what}`, dir);
	});
	if (found === null) return false;
	if (!found.isDirectory())
		throw fileSystemError(
			Object.assign(new Error(), {code: found.isSymbolicLink() ? 'ELOOP' : 'ENOTDIR'}),
			`use ${what}`,
			dir,
		);
	return true;
}

/** A state file's text, read without following a symbolic link; null when there is none. */
export async function readStateFile(file: string): Promise<string | null> {
	let handle;
	try {
		handle = await open(file, constants.O_RDONLY | constants.O_NOFOLLOW);
	} catch (error) {
		if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
		throw fileSystemError(error, 'read', file);
	}
	try {
		return await handle.readFile('utf8');
	} finally {
		await handle.close();
	}
}

/**
 * A small file from outside, read whole: a regular file only (never a link, a folder, a device or a
 * pipe: /dev/zero would be read until memory ran out), no larger than `maxBytes`. `refuse` words
 * what it is not (the caller knows what it should be); null when there is no such file.
 */
export async function readSmallFile(
	file: string,
	maxBytes: number,
	refuse: (why: string) => Error,
): Promise<string | null> {
	let handle;
	try {
		handle = await open(file, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
	} catch (error) {
		if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
		throw fileSystemError(error, 'read', file);
	}
	try {
		const found = await handle.stat();
		if (!found.isFile()) throw refuse(found.isDirectory() ? 'it is a folder' : 'it is not a regular file');
		if (found.size > maxBytes)
			throw refuse(`it is ${formatBytes(found.size)}, and no more than ${formatBytes(maxBytes)} is read`);
		return await handle.readFile('utf8');
	} finally {
		await handle.close();
	}
}

/** Appends to a state file (created 0600), never through a symbolic link, and fsyncs it. */
export async function appendStateFile(file: string, text: string): Promise<void> {
	let handle;
	try {
		handle = await open(
			file,
			constants.O_WRONLY | constants.O_APPEND | constants.O_CREAT | constants.O_NOFOLLOW,
			0o600,
		);
	} catch (error) {
		throw fileSystemError(error, 'write', file);
	}
	try {
		await handle.write(text);
		await handle.sync();
	} finally {
		await handle.close();
	}
}

/**
 * Gives a new image the mode and owner of the image it copies or builds on, never wider than
 * `widest`: an overlay or a restored disk is no more readable than its source.
 */
export async function matchSource(file: string, source: string, widest = 0o777): Promise<void> {
	const from = await stat(source);
	await chmod(file, from.mode & widest & 0o777);
	if (process.getuid?.() === 0) await chown(file, from.uid, from.gid).catch(() => undefined);
}
