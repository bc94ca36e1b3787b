import {constants} from 'node:fs';
import {lstat, mkdir, open, readdir, readFile, realpath, rm} from 'node:fs/promises';
import path from 'node:path';
import {SnapdeckError} from '../../core/errors.js';
import type {Debris, PendingJob} from '../../core/plan.js';
import {fileSystemError, makeDirs} from '../safe-fs.js';

/**
 * A job's work folders: `PARENT/.snapdeck-work-TOKEN-LABEL`, private (0700), holding a file
 * `.snapdeck-job` with the job's token. A record names them before they exist; `recover` removes
 * one only where its name, its kind (a real folder, not a link) and the token inside all match the
 * record that names it, so a forged or stale record can at most remove a work folder of its own.
 */
export const WORK_FOLDER = /^\.snapdeck-work-([0-9a-f]{16})-[a-z0-9-]{1,40}$/;
export const TOKEN_FILE = '.snapdeck-job';

/** The folder a work folder goes in, links resolved (made, private, where missing). */
export async function realWorkParent(parent: string): Promise<string> {
	await makeDirs(parent, 'the folder of a work folder');
	return realpath(parent);
}

/** Makes the work folder `parent/name` (parent must be a real folder) with `token` inside. */
export async function makeWorkFolder(parent: string, name: string, token: string): Promise<string> {
	const match = WORK_FOLDER.exec(name);
	if (!match || match[1] !== token)
		throw new Error(`internal: work folder name '${name}' does not carry the job's token`);
	const folder = path.join(parent, name);
	try {
		const found = await lstat(parent);
		if (!found.isDirectory()) throw Object.assign(new Error(), {code: found.isSymbolicLink() ? 'ELOOP' : 'ENOTDIR'});
		await mkdir(folder, {mode: 0o700});
		const handle = await open(
			path.join(folder, TOKEN_FILE),
			constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW,
			0o600,
		);
		try {
			await handle.writeFile(`${token}\n`);
		} finally {
			await handle.close();
		}
	} catch (error) {
		throw fileSystemError(error, 'make a work folder in', parent);
	}
	return folder;
}

/**
 * Removes a work folder a record names, where it is the one that job made: its name carries the
 * record's token, it is a folder (not a link) in the folder the record names, reached through no
 * link, and its token file says the same token. Anything else is left alone, and said why.
 */
export async function removeWorkFolder(
	job: Pick<PendingJob, 'token'>,
	debris: Extract<Debris, {kind: 'folder'}>,
): Promise<{removed?: string; left?: string}> {
	const folder = path.join(debris.parent, debris.name);
	const match = WORK_FOLDER.exec(debris.name);
	if (!match || match[1] !== job.token || !path.isAbsolute(debris.parent) || path.basename(folder) !== debris.name) {
		return {left: `${folder}: not a work folder of this job (its name must be .snapdeck-work-${job.token}-LABEL)`};
	}
	const found = await lstat(folder).catch(() => null);
	if (!found) return {};
	if (!found.isDirectory()) return {left: `${folder}: not a folder`};
	// Reached through a link, it would be some other folder: its parent must be what the record says, link-free.
	const real = await realpath(debris.parent).catch(() => null);
	if (real !== path.resolve(debris.parent)) return {left: `${folder}: its folder is reached through a symbolic link`};
	const token = await readFile(path.join(folder, TOKEN_FILE), {
		encoding: 'utf8',
		flag: constants.O_RDONLY | constants.O_NOFOLLOW,
	}).catch(() => null);
	if (token?.trim() !== job.token) return {left: `${folder}: its ${TOKEN_FILE} does not carry the job's token`};
	await releaseFifoWriters(folder);
	try {
		await rm(folder, {recursive: true, force: true});
	} catch (error) {
		throw new SnapdeckError(
			'failed',
			`cannot remove ${folder}, which a killed job left: ${(error as Error).message}`,
			'remove it by hand, then run the command again',
		);
	}
	return {removed: folder};
}

/**
 * Lets go of a process blocked opening one of the folder's FIFOs for writing (guestfish, told to
 * write a tar stream into one just as the job that was to read it was killed): a reader comes and
 * goes, so its open returns, its write fails and it ends.
 */
async function releaseFifoWriters(folder: string): Promise<void> {
	const entries = await readdir(folder, {recursive: true, withFileTypes: true}).catch(() => []);
	for (const entry of entries.filter(found => found.isFIFO())) {
		const handle = await open(
			path.join(entry.parentPath, entry.name),
			constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOFOLLOW,
		).catch(() => null);
		await handle?.close();
	}
}
