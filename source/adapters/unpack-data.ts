import {constants, createReadStream} from 'node:fs';
import {mkdir, open, symlink, type FileHandle} from 'node:fs/promises';
import type {Readable} from 'node:stream';
import {extract, type Header} from 'tar-stream';
import {
	confinedParts,
	dataMode,
	droppedBits,
	NOT_DATA,
	type ExtractSummary,
	type SkippedEntry,
} from '../core/guest-files.js';
import {escapeName} from '../core/guest-names.js';

/**
 * A file's or folder's mode and time, set once the whole copy is written and in place: a folder
 * the guest made read-only still gets its files, and a file the guest made unreadable can still
 * be copied for a hard link to it. Set through a handle opened without following a link and
 * checked to be the very entry this unpacking made (device and inode).
 */
export interface ModeToSet {
	/** Its path inside the copy as bytes (archive names read as latin1: one character a byte), `[]` for the copy's top. */
	readonly parts: readonly string[];
	readonly folder: boolean;
	readonly mode: number;
	readonly mtime: Date | null;
	readonly dev: number;
	readonly ino: number;
}

export interface Unpacked extends ExtractSummary {
	readonly modes: readonly ModeToSet[];
	/** Every member the archive held, as paths inside the copy (`.` for its top, names as latin1): what it left out is what find lists beyond these. */
	readonly seen: ReadonlySet<string>;
}

/**
 * How archive names are read: latin1 maps each byte to one character and back, so a name that is
 * not UTF-8 reaches the disk as the guest had it (tar-stream's default, UTF-8, would change it).
 */
const NAME_BYTES = 'latin1';

const relative = (parts: readonly string[]) => (parts.length === 0 ? '.' : parts.join('/'));

/** A host path: `root` (text) and, inside it, parts that are bytes as latin1. */
export const hostPath = (root: string | Buffer, parts: readonly string[]): Buffer =>
	Buffer.concat([
		typeof root === 'string' ? Buffer.from(root) : root,
		...parts.map(part => Buffer.from(`/${part}`, NAME_BYTES)),
	]);

/** A path inside the copy, as the operator reads it (escaped). */
const shownPath = (parts: readonly string[]) => escapeName(Buffer.from(relative(parts), NAME_BYTES));

/**
 * Writes a file's bytes as a new file `file` (never over anything, never through a link), owned
 * by whoever runs snapdeck. With `mode`, it gets the guest's permission bits (dataMode) at once;
 * without, it stays 0600 until applyModes. Says the bytes written and what the file is.
 */
export async function writeDataFile(
	data: AsyncIterable<Uint8Array>,
	file: string | Buffer,
	mode: number | null,
	mtime: Date | null,
): Promise<{bytes: number; dev: number; ino: number}> {
	const handle = await open(
		file,
		constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW,
		0o600,
	);
	let bytes = 0;
	try {
		for await (const chunk of data) {
			await handle.write(chunk);
			bytes += chunk.length;
		}
		if (mode !== null) await handle.chmod(dataMode(mode));
		if (mtime) await handle.utimes(mtime, mtime);
		const {dev, ino} = await handle.stat();
		return {bytes, dev, ino};
	} finally {
		await handle.close();
	}
}

/** Opens what this unpacking made at `at`, never through a link at its end, and only where it is still that entry. */
async function openOwn(at: Buffer, entry: Pick<ModeToSet, 'folder' | 'dev' | 'ino'>): Promise<FileHandle> {
	const handle = await open(at, constants.O_RDONLY | constants.O_NOFOLLOW | (entry.folder ? constants.O_DIRECTORY : 0));
	const found = await handle.stat();
	if (found.dev !== entry.dev || found.ino !== entry.ino) {
		await handle.close();
		throw Object.assign(new Error(`${at.toString()} was replaced while the copy was made`), {code: 'ESTALE'});
	}
	return handle;
}

/** What one unpacking has made so far and what it left out: the state its steps share. */
interface Unpacking {
	readonly root: string;
	/** The extracted folder as the operator reads it, for what is reported. */
	readonly guestPath: string;
	readonly folders: Map<string, ModeToSet>;
	readonly files: Map<string, ModeToSet>;
	/** Every path made in the copy (a folder, a file or a link), by relative(). */
	readonly taken: Set<string>;
	readonly seen: Set<string>;
	readonly skipped: SkippedEntry[];
	readonly dropped: string[];
	bytes: number;
	links: number;
}

/** A folder this unpacking made, as applyModes will find it. */
async function madeFolder(
	root: string,
	parts: readonly string[],
	mode: number,
	mtime: Date | null,
): Promise<ModeToSet> {
	const handle = await open(hostPath(root, parts), constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_DIRECTORY);
	const {dev, ino} = await handle.stat().finally(() => handle.close());
	return {parts, folder: true, mode, mtime, dev, ino};
}

/** An entry's path as the operator reads it: inside the extracted folder. */
const inGuest = (unpacking: Unpacking, parts: readonly string[]) =>
	parts.length === 0 ? unpacking.guestPath : `${unpacking.guestPath.replace(/\/$/, '')}/${shownPath(parts)}`;

/** Lists an entry as left out, and why. */
const skip = (unpacking: Unpacking, parts: readonly string[], type: SkippedEntry['type'], reason: string) =>
	unpacking.skipped.push({path: inGuest(unpacking, parts), type, reason});

/** Makes the folders above an entry that the archive did not list first; false where its path passes through something that is not a folder of this copy. */
async function foldersAbove(unpacking: Unpacking, parts: readonly string[]): Promise<boolean> {
	const {root, folders, taken} = unpacking;
	for (let depth = 1; depth < parts.length; depth++) {
		const rel = relative(parts.slice(0, depth));
		if (folders.has(rel)) continue;
		if (taken.has(rel)) return false;
		await mkdir(hostPath(root, parts.slice(0, depth)), {mode: 0o700});
		folders.set(rel, await madeFolder(root, parts.slice(0, depth), 0o700, null));
		taken.add(rel);
	}
	return true;
}

/** A hard link, as a copy of a file this unpacking wrote (still 0600, whatever mode the guest gave it). */
async function copyOfFile(unpacking: Unpacking, header: Header, parts: readonly string[], at: Buffer) {
	const source = confinedParts(header.linkname ?? '');
	const original = source === null ? undefined : unpacking.files.get(relative(source));
	if (original === undefined)
		return skip(
			unpacking,
			parts,
			'hard-link',
			`a hard link to ${escapeName(Buffer.from(header.linkname ?? '?', NAME_BYTES))}, which is not a file of the copy`,
		);
	const handle = await openOwn(hostPath(unpacking.root, original.parts), original);
	const written = await writeDataFile(createReadStream('', {fd: handle}), at, null, null);
	unpacking.files.set(relative(parts), {
		...original,
		parts,
		mode: dataMode(header.mode),
		mtime: header.mtime ?? original.mtime,
		dev: written.dev,
		ino: written.ino,
	});
}

/** Why an entry is left out of the copy, or null where it is made (the folders above it made first). */
async function leftOut(
	unpacking: Unpacking,
	header: Header,
	parts: readonly string[],
): Promise<Pick<SkippedEntry, 'type' | 'reason'> | null> {
	const rel = relative(parts);
	if (unpacking.taken.has(rel) && !(header.type === 'directory' && unpacking.folders.has(rel)))
		return {type: 'unknown', reason: 'it appears twice in the archive: the first is kept'};
	const kind =
		header.type === 'character-device'
			? 'char-device'
			: header.type === 'block-device'
				? 'block-device'
				: header.type === 'fifo'
					? 'fifo'
					: null;
	if (kind) return {type: kind, reason: NOT_DATA[kind]!};
	if (!['file', 'contiguous-file', 'directory', 'symlink', 'link'].includes(header.type))
		return {type: 'unknown', reason: `${NOT_DATA.unknown} (tar type ${header.type})`};
	if (!(await foldersAbove(unpacking, parts)))
		return {type: 'unknown', reason: 'a folder above it is not a folder in the copy'};
	return null;
}

/** Makes one archive entry in the copy, or lists why it is not there. */
async function place(unpacking: Unpacking, header: Header, entry: AsyncIterable<Uint8Array>) {
	const {root, guestPath, folders, files, taken} = unpacking;
	const parts = confinedParts(header.name);
	// Named as the archive names it: joined as a path, it would name somewhere else.
	if (parts === null)
		return unpacking.skipped.push({
			path: `${guestPath.replace(/\/$/, '')}/${escapeName(Buffer.from(header.name, NAME_BYTES))}`,
			type: header.type === 'link' ? 'hard-link' : 'unknown',
			reason: 'its name leads outside the folder (..)',
		});
	const rel = relative(parts);
	unpacking.seen.add(rel);
	const special = droppedBits(header.mode);
	const refused = await leftOut(unpacking, header, parts);
	if (refused) return skip(unpacking, parts, refused.type, refused.reason);
	const at = hostPath(root, parts);
	const mtime = header.mtime ?? null;
	if (header.type === 'directory') {
		if (!taken.has(rel)) await mkdir(at, {mode: 0o700});
		folders.set(rel, {
			...(folders.get(rel) ?? (await madeFolder(root, parts, 0, null))),
			mode: dataMode(header.mode),
			mtime,
		});
	} else if (header.type === 'symlink') {
		await symlink(Buffer.from(header.linkname ?? '', NAME_BYTES), at);
		unpacking.links++;
	} else if (header.type === 'link') {
		const before = files.size;
		await copyOfFile(unpacking, header, parts, at);
		if (files.size === before) return;
	} else {
		const written = await writeDataFile(entry, at, null, mtime);
		unpacking.bytes += written.bytes;
		files.set(rel, {parts, folder: false, mode: dataMode(header.mode), mtime, dev: written.dev, ino: written.ino});
	}
	taken.add(rel);
	if (special.length > 0) unpacking.dropped.push(`${inGuest(unpacking, parts)}: ${special.join(', ')} not copied`);
}

/**
 * Unpacks a tar stream into the new folder `root` as data only: regular files, folders and
 * symbolic links (made as links, never followed); hard links become copies of the file they
 * name. Device nodes, FIFOs and anything else are left out and listed; setuid, setgid and sticky
 * bits are dropped and listed; owners are never set. Every entry is created new (O_EXCL) in a
 * folder this unpacking made itself, so nothing is written through a link and nothing lands
 * outside `root`. Modes are returned for applyModes, once the copy is in place. `guestPath`:
 * the extracted folder as the operator reads it, for what is reported.
 */
export async function unpackData(tar: Readable, root: string, guestPath: string): Promise<Unpacked> {
	await mkdir(root, {mode: 0o700});
	const unpacking: Unpacking = {
		root,
		guestPath,
		folders: new Map([['.', await madeFolder(root, [], 0o700, null)]]),
		files: new Map(),
		taken: new Set(['.']),
		seen: new Set(),
		skipped: [],
		dropped: [],
		bytes: 0,
		links: 0,
	};
	// tar-stream reads this option (extract.js) though its types do not list it.
	const parser = extract({filenameEncoding: NAME_BYTES} as Parameters<typeof extract>[0]);
	tar.on('error', error => parser.destroy(error));
	tar.pipe(parser);
	for await (const entry of parser) {
		await place(unpacking, entry.header, entry as AsyncIterable<Uint8Array>);
		// Whatever an entry's data was not read for (a skipped file) is passed over.
		entry.resume();
	}
	const {files, folders, links, bytes, skipped, dropped, seen} = unpacking;
	return {
		files: files.size,
		directories: folders.size,
		links,
		bytes,
		skipped,
		dropped,
		modes: [...files.values(), ...folders.values()],
		seen,
	};
}

/**
 * Gives each file and folder of a copy (now at `root`) its mode and time, deepest first, each
 * through a handle on the entry itself (never a path-based chmod that a link could redirect).
 */
export async function applyModes(root: string | Buffer, modes: readonly ModeToSet[]): Promise<void> {
	for (const entry of [...modes].sort((a, b) => b.parts.length - a.parts.length)) {
		const handle = await openOwn(hostPath(root, entry.parts), entry);
		try {
			await handle.chmod(entry.mode);
			if (entry.mtime) await handle.utimes(entry.mtime, entry.mtime);
		} finally {
			await handle.close();
		}
	}
}
