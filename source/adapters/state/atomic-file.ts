import {randomBytes} from 'node:crypto';
import {open, rename, rm} from 'node:fs/promises';
import path from 'node:path';
import {fileSystemError} from '../safe-fs.js';

async function fsyncPath(file: string, flags: string) {
	const handle = await open(file, flags);
	try {
		await handle.sync();
	} finally {
		await handle.close();
	}
}

/** Makes a file's data and its directory entry durable. */
export async function fsyncFile(file: string): Promise<void> {
	for (const target of [file, path.dirname(file)]) await fsyncPath(target, 'r');
}

/**
 * Replaces `file` with `content` so that a crash at any moment leaves either the old or the new
 * content: write a temp file beside it, fsync it, rename it over, fsync the directory. With
 * `durable: false` (a cache, whose loss costs only time) no fsync: readers still never see it torn.
 * The file is private (0600) unless `mode` says otherwise.
 */
export async function writeFileAtomic(
	file: string,
	content: string | Uint8Array,
	options: {durable?: boolean; mode?: number} = {},
): Promise<void> {
	const durable = options.durable ?? true;
	const temp = path.join(
		path.dirname(file),
		`.${path.basename(file)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`,
	);
	try {
		// 'wx' creates a new file (O_EXCL: never through a link placed there); rename replaces a link, not its target.
		const handle = await open(temp, 'wx', 0o600);
		try {
			// A file others read (the Prometheus textfile): its mode set before it takes the name, whatever the umask.
			if (options.mode !== undefined) await handle.chmod(options.mode);
			await handle.writeFile(content, typeof content === 'string' ? 'utf8' : undefined);
			if (durable) await handle.sync();
		} finally {
			await handle.close();
		}
		await rename(temp, file);
	} catch (error) {
		await rm(temp, {force: true});
		throw fileSystemError(error, 'write', file);
	}
	if (durable) await fsyncPath(path.dirname(file), 'r');
}

export const writeJsonAtomic = (file: string, value: unknown) =>
	writeFileAtomic(file, `${JSON.stringify(value, null, 2)}\n`);
