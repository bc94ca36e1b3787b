import {link, lstat, mkdir, rename, symlink, unlink} from 'node:fs/promises';
import path from 'node:path';
import {SnapdeckError} from '../core/errors.js';
import {confinedParts, entryType, NOT_DATA, type ExtractSummary, type SkippedEntry} from '../core/guest-files.js';
import {escapeName} from '../core/guest-names.js';
import type {JobContext} from '../core/progress.js';
import {Guestfs, type GuestStat} from '../adapters/guestfs.js';
import {fileSystemError} from '../adapters/safe-fs.js';
import {applyModes, hostPath, unpackData, writeDataFile, type Unpacked} from '../adapters/unpack-data.js';
import {chosen, parseGuestPath, pointImages, type PointFilesOptions} from './point-files.js';
import type {Repository} from './repository.js';

export interface Extracted extends ExtractSummary {
	readonly device: string;
	/** The path in the guest, escaped as names are listed. */
	readonly path: string;
	/** Where the copy is: `--to DIR` / the entry's name (escaped: on disk it has the guest's bytes). */
	readonly written: string;
}

const taken = (file: string | Buffer) =>
	lstat(file).then(
		() => true,
		() => false,
	);
/** The name asked for is taken: bad input where it is found first (exit 2), a refusal where it appeared meanwhile. */
const refuseTaken = (written: string, kind: 'input' | 'refused' = 'refused') =>
	new SnapdeckError(
		kind,
		`${written} already exists; extracting never overwrites a file`,
		'choose another --to folder, or move that one away',
	);

/**
 * Copies a file or a folder (with everything in it) out of a point into the host folder `to`
 * (made, private, when missing) as data only (see unpackData): it is written in the job's work
 * folder there, then given its name `to/NAME` once whole, never over anything.
 */
export async function extractPointFiles(
	repo: Repository,
	vm: string,
	options: PointFilesOptions & {readonly to: string},
	job: JobContext,
): Promise<Extracted> {
	if (options.path === undefined)
		throw new SnapdeckError('usage', '--extract needs the path in the guest, as /etc/hosts');
	const {device, file, shown} = parseGuestPath(options.path);
	const to = path.resolve(options.to);
	const name = file.length > 1 ? file.subarray(file.lastIndexOf(0x2f) + 1) : Buffer.from('root');
	// The guest's bytes on disk; escaped where it is said.
	const written = hostPath(to, [name.toString('latin1')]);
	const writtenShown = path.join(to, escapeName(name));
	if (await taken(written)) throw refuseTaken(writtenShown, 'input');
	const {point, images} = await pointImages(repo, vm, options.point);
	await job.begin(point, `${shown} to ${writtenShown}`);
	const work = await job.workFolder(to, 'extract');
	// guestfish's HOME, libguestfs's temporary files and the FIFOs: inside the work folder, so a kill leaves them for recover.
	const scratch = path.join(work, 'guestfish');
	await mkdir(scratch, {mode: 0o700});
	const staged = path.join(work, 'copy');
	const guestfs = await Guestfs.open(images, {signal: options.signal, scratch});
	let on: string;
	let copied: Unpacked;
	try {
		on = chosen(await guestfs.filesystems(), device, shown);
		await guestfs.mount(on);
		const self = await guestfs.stat(file);
		job.step('extracting');
		copied = await copyOut(guestfs, {file, shown}, self, staged);
	} finally {
		await guestfs.close();
	}
	job.step('extracted');
	await place(staged, written, writtenShown);
	try {
		await applyModes(written, copied.modes);
	} catch (error) {
		throw fileSystemError(error, 'set the modes of the files and folders in', writtenShown);
	}
	const {files, directories, links, bytes, skipped, dropped} = copied;
	return {device: on, path: shown, written: writtenShown, files, directories, links, bytes, skipped, dropped};
}

/** One entry of the guest (a folder with all in it) into the new path `staged`: `file` its bytes, `shown` as it is said. */
async function copyOut(
	guestfs: Guestfs,
	{file, shown}: {file: Buffer; shown: string},
	self: GuestStat,
	staged: string,
): Promise<Unpacked> {
	const type = entryType(self.mode);
	const nothing = {
		files: 0,
		directories: 0,
		links: 0,
		bytes: 0,
		skipped: [],
		dropped: [],
		modes: [],
		seen: new Set<string>(),
	};
	if (type === 'link') {
		await symlink((await guestfs.readlinkAll([file]))[0]!, staged);
		return {...nothing, links: 1};
	}
	if (type === 'file') {
		const {data, done} = await guestfs.stream('file', file);
		const [written] = await settle(writeDataFile(data, staged, self.mode, new Date(self.mtime * 1000)), done, () =>
			data.destroy(),
		);
		return {...nothing, files: 1, bytes: written.bytes};
	}
	if (type !== 'directory')
		throw new SnapdeckError(
			'refused',
			`${shown} is a ${type}: ${NOT_DATA[type] ?? NOT_DATA.unknown}`,
			'extract the folder it is in, or a file',
		);
	const {data, done} = await guestfs.stream('tar', file);
	const [unpacked] = await settle(unpackData(data, staged, shown), done, () => data.destroy());
	return {...unpacked, skipped: [...unpacked.skipped, ...(await leftOut(guestfs, {file, shown}, unpacked.seen))]};
}

/**
 * What guestfish's tar left out of a folder without a word (sockets; anything it could not
 * read): every path under the folder that the archive did not hold, with its kind.
 */
async function leftOut(
	guestfs: Guestfs,
	folder: {file: Buffer; shown: string},
	seen: ReadonlySet<string>,
): Promise<SkippedEntry[]> {
	// find0 names each path from the folder, as `/a/b` or `./a/b` depending on the version: compared as the archive's are (bytes as latin1).
	const bare = (found: Buffer) =>
		found[0] === 0x2f ? found.subarray(1) : found[0] === 0x2e && found[1] === 0x2f ? found.subarray(2) : found;
	const inCopy = (found: Buffer) => confinedParts(bare(found).toString('latin1'))?.join('/') ?? '';
	const missing = (await guestfs.find(folder.file)).filter(found => inCopy(found) !== '' && !seen.has(inCopy(found)));
	if (missing.length === 0) return [];
	const prefix = folder.file.length === 1 ? folder.file : Buffer.concat([folder.file, Buffer.from('/')]);
	const stats = await guestfs.statAll(missing.map(found => Buffer.concat([prefix, bare(found)])));
	return missing.map((found, index) => {
		const type = entryType(stats[index]!.mode);
		return {
			path: path.posix.join(folder.shown, escapeName(Buffer.from(inCopy(found), 'latin1'))),
			type,
			reason: NOT_DATA[type] ?? "guestfish's archive left it out",
		};
	});
}

/**
 * Waits for both the writer and guestfish. When the writer fails (no space), the stream is
 * closed so guestfish stops (it is never left writing into a FIFO no one reads); when guestfish
 * fails, its words say why, not the stream's end.
 */
async function settle<T>(writing: Promise<T>, done: Promise<void>, stop: () => void): Promise<[T]> {
	const [wrote, finished] = await Promise.allSettled([
		writing.catch((error: unknown) => {
			stop();
			throw error;
		}),
		done,
	]);
	if (wrote.status === 'rejected' && (wrote.reason as NodeJS.ErrnoException | null)?.code !== undefined)
		throw fileSystemError(wrote.reason, 'write the copy in', 'the target folder');
	if (finished.status === 'rejected') throw finished.reason;
	if (wrote.status === 'rejected') throw wrote.reason;
	return [wrote.value];
}

/** Gives the whole copy its name, never over anything: a file or link by a hard link (which fails where the name is taken), a folder by rename. */
async function place(staged: string, written: Buffer, shown: string): Promise<void> {
	const found = await lstat(staged);
	try {
		if (!found.isDirectory()) {
			try {
				await link(staged, written);
				await unlink(staged);
				return;
			} catch (error) {
				if ((error as NodeJS.ErrnoException).code === 'EEXIST') throw refuseTaken(shown);
				// A filesystem without hard links: checked, then renamed.
			}
		}
		if (await taken(written)) throw refuseTaken(shown);
		await rename(staged, written);
	} catch (error) {
		throw fileSystemError(error, 'give the copy its name', shown);
	}
}
