import {constants} from 'node:fs';
import {chmod, copyFile, mkdir, open, symlink, utimes} from 'node:fs/promises';
import path from 'node:path';
import type {Readable} from 'node:stream';
import {extract, type Header} from 'tar-stream';
import {confinedParts, dataMode, droppedBits, NOT_DATA, type ExtractSummary, type SkippedEntry} from '../core/guest-files.js';

/** A folder's mode and time, set once everything in it is written (a folder the guest made read-only still gets its files). */
export interface FolderMode {
	/** Its path inside the copy, `[]` for the copy's top. */
	readonly parts: readonly string[];
	readonly mode: number;
	readonly mtime: Date | null;
}

export interface Unpacked extends ExtractSummary {
	readonly folders: readonly FolderMode[];
	/** Every member the archive held, as paths inside the copy (`.` for its top): what it left out is what find lists beyond these. */
	readonly seen: ReadonlySet<string>;
}

const relative = (parts: readonly string[]) => (parts.length === 0 ? '.' : parts.join('/'));

/**
 * Writes a file's bytes as a new file `file` (never over anything, never through a link), owned
 * by whoever runs snapdeck, with the guest's permission bits only.
 */
export async function writeDataFile(data: AsyncIterable<Uint8Array>, file: string, mode: number, mtime: Date | null): Promise<number> {
	const handle = await open(file, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o600);
	let bytes = 0;
	try {
		for await (const chunk of data) {
			await handle.write(chunk);
			bytes += chunk.length;
		}
		await handle.chmod(dataMode(mode));
		if (mtime) await handle.utimes(mtime, mtime);
	} finally {
		await handle.close();
	}
	return bytes;
}

/**
 * Unpacks a tar stream into the new folder `root` as data only: regular files, folders and
 * symbolic links (made as links, never followed); hard links become copies of the file they
 * name. Device nodes, FIFOs and anything else are left out and listed; setuid, setgid and sticky
 * bits are dropped and listed; owners are never set. Every entry is created new (O_EXCL) in a
 * folder this unpacking made itself, so nothing is written through a link and nothing lands
 * outside `root`. Folder modes are returned for applyFolderModes, once the copy is in place.
 */
export async function unpackData(tar: Readable, root: string, guestPath: string): Promise<Unpacked> {
	await mkdir(root, {mode: 0o700});
	const folders = new Map<string, FolderMode>([['.', {parts: [], mode: 0o700, mtime: null}]]);
	const files = new Map<string, string>();
	const taken = new Set<string>(['.']);
	const seen = new Set<string>();
	const skipped: SkippedEntry[] = [];
	const dropped: string[] = [];
	let bytes = 0;
	let links = 0;
	const inGuest = (rel: string) => (rel === '.' ? guestPath : path.posix.join(guestPath, rel));
	const skip = (rel: string, type: SkippedEntry['type'], reason: string) => skipped.push({path: inGuest(rel), type, reason});

	/** The folder an entry goes in, made where the archive did not list it first; null where its path passes through something that is not a folder of this copy. */
	const folderOf = async (parts: readonly string[]): Promise<string | null> => {
		for (let depth = 1; depth < parts.length; depth++) {
			const rel = relative(parts.slice(0, depth));
			if (folders.has(rel)) continue;
			if (taken.has(rel)) return null;
			await mkdir(path.join(root, ...parts.slice(0, depth)), {mode: 0o700});
			folders.set(rel, {parts: parts.slice(0, depth), mode: 0o700, mtime: null});
			taken.add(rel);
		}
		return path.join(root, ...parts.slice(0, -1));
	};

	const place = async (header: Header, entry: AsyncIterable<Uint8Array>) => {
		const parts = confinedParts(header.name);
		// Named as the archive names it: joined as a path, it would name somewhere else.
		if (parts === null) return skipped.push({path: `${guestPath.replace(/\/$/, '')}/${header.name}`, type: header.type === 'link' ? 'hard-link' : 'unknown', reason: 'its name leads outside the folder (..)'});
		const rel = relative(parts);
		seen.add(rel);
		const special = droppedBits(header.mode);
		const isFolder = header.type === 'directory';
		if (taken.has(rel) && !(isFolder && folders.has(rel))) return skip(rel, 'unknown', 'it appears twice in the archive: the first is kept');
		const kind = header.type === 'character-device' ? 'char-device' : header.type === 'block-device' ? 'block-device' : header.type === 'fifo' ? 'fifo' : null;
		if (kind) return skip(rel, kind, NOT_DATA[kind]!);
		if (!['file', 'contiguous-file', 'directory', 'symlink', 'link'].includes(header.type)) return skip(rel, 'unknown', `${NOT_DATA.unknown} (tar type ${header.type})`);
		const folder = await folderOf(parts);
		if (folder === null) return skip(rel, 'unknown', 'a folder above it is not a folder in the copy');
		const at = rel === '.' ? root : path.join(folder, parts.at(-1)!);
		if (isFolder) {
			if (!taken.has(rel)) await mkdir(at, {mode: 0o700});
			folders.set(rel, {parts, mode: dataMode(header.mode), mtime: header.mtime ?? null});
		} else if (header.type === 'symlink') {
			await symlink(header.linkname ?? '', at);
			links++;
		} else if (header.type === 'link') {
			const source = confinedParts(header.linkname ?? '');
			const copyOf = source === null ? undefined : files.get(relative(source));
			if (copyOf === undefined) return skip(rel, 'hard-link', `a hard link to ${header.linkname ?? '?'}, which is not a file of the copy`);
			await copyFile(copyOf, at, constants.COPYFILE_EXCL);
			await chmod(at, dataMode(header.mode));
			if (header.mtime) await utimes(at, header.mtime, header.mtime);
			files.set(rel, at);
		} else {
			bytes += await writeDataFile(entry, at, header.mode, header.mtime ?? null);
			files.set(rel, at);
		}
		taken.add(rel);
		if (special.length > 0) dropped.push(`${inGuest(rel)}: ${special.join(', ')} not copied`);
	};

	const parser = extract();
	tar.on('error', error => parser.destroy(error));
	tar.pipe(parser);
	for await (const entry of parser) {
		await place(entry.header, entry as AsyncIterable<Uint8Array>);
		// Whatever an entry's data was not read for (a skipped file) is passed over.
		entry.resume();
	}
	const directories = [...folders.keys()].length;
	return {files: files.size, directories, links, bytes, skipped, dropped, folders: [...folders.values()], seen};
}

/** Gives each folder of a copy (now at `root`) its mode and time, deepest first. */
export async function applyFolderModes(root: string, folders: readonly FolderMode[]): Promise<void> {
	for (const folder of [...folders].sort((a, b) => b.parts.length - a.parts.length)) {
		const at = path.join(root, ...folder.parts);
		await chmod(at, folder.mode);
		if (folder.mtime) await utimes(at, folder.mtime, folder.mtime);
	}
}
