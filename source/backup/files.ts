import {lstat, mkdir} from 'node:fs/promises';
import path from 'node:path';
import {findPoint} from '../core/backup.js';
import {SnapdeckError} from '../core/errors.js';
import {Guestfs, type GuestEntry, type GuestFilesystem} from '../adapters/guestfs.js';
import type {Repository} from './repository.js';

export interface PointFilesOptions {
	readonly point: string;
	/** `[DEVICE:]/path`: a folder or file in one of the point's filesystems; none: the filesystems. */
	readonly path?: string;
	readonly command: string;
	readonly signal?: AbortSignal;
}

export type PointListing =
	| {readonly kind: 'filesystems'; readonly filesystems: readonly GuestFilesystem[]}
	| {readonly kind: 'entries'; readonly device: string; readonly path: string; readonly entries: readonly GuestEntry[]};

/** `[DEVICE:]/path` split; the device may be omitted where the point has one filesystem. */
function parseGuestPath(text: string): {device: string | null; file: string} {
	const match = text.match(/^(\/dev\/[^:]+):(\/.*)$/);
	const file = match ? match[2]! : text;
	if (!file.startsWith('/')) throw new SnapdeckError('usage', `'${text}': give an absolute path in the guest, as /etc/hosts, or DEVICE:/path (as /dev/sda1:/etc/hosts)`);
	if (file.split('/').includes('..')) throw new SnapdeckError('usage', `'${text}': a path in the guest may not contain '..'`);
	return {device: match ? match[1]! : null, file};
}

/**
 * Opens the point's images read-only in libguestfs (each disk's point file, the points under it
 * as its backing chain), checked first against the manifest as every read of a point is.
 */
async function openPoint<T>(repo: Repository, vm: string, options: PointFilesOptions, work: (guestfs: Guestfs, filesystems: GuestFilesystem[]) => Promise<T>): Promise<T> {
	const release = await repo.lock(vm, options.command, {readOnly: true});
	try {
		const manifest = await repo.read(vm);
		const point = findPoint(manifest, options.point);
		if (point.state !== 'complete') throw new SnapdeckError('refused', `point ${point.id} is partial (an interrupted backup): its files are not whole`);
		const problems = await repo.chainHeaderProblems(manifest, point.id);
		if (problems.length > 0) throw new SnapdeckError('failed', `cannot read point ${point.id}: ${problems.join('; ')}`, `run 'snapdeck verify ${vm}'`);
		const guestfs = await Guestfs.open(point.files.map(file => repo.resolve(vm, file.file)), options.signal);
		try {
			return await work(guestfs, await guestfs.filesystems());
		} finally {
			await guestfs.close();
		}
	} finally {
		await release();
	}
}

/** The filesystem a path names, or the only one there is. */
function chosen(filesystems: readonly GuestFilesystem[], device: string | null, text: string): string {
	if (filesystems.length === 0) throw new SnapdeckError('not-found', 'libguestfs finds no filesystem it can read on the point\'s disks');
	if (device !== null) {
		if (!filesystems.some(fs => fs.device === device)) throw new SnapdeckError('not-found', `the point has no filesystem ${device}`, `it has: ${filesystems.map(fs => `${fs.device} (${fs.type})`).join(', ')}`);
		return device;
	}
	if (filesystems.length > 1) throw new SnapdeckError('usage', `the point has ${filesystems.length} filesystems: say which, as DEVICE:${text}`, `they are: ${filesystems.map(fs => `${fs.device} (${fs.type})`).join(', ')}`);
	return filesystems[0]!.device;
}

/** Lists the point's filesystems, or a folder (or file) in one of them. Nothing is written to the point. */
export async function listPointFiles(repo: Repository, vm: string, options: PointFilesOptions): Promise<PointListing> {
	return openPoint(repo, vm, options, async (guestfs, filesystems) => {
		if (options.path === undefined) return {kind: 'filesystems', filesystems};
		const {device, file} = parseGuestPath(options.path);
		const on = chosen(filesystems, device, file);
		await guestfs.mount(on);
		return {kind: 'entries', device: on, path: file, entries: await guestfs.list(file)};
	});
}

/**
 * Copies a file or a folder (with everything in it) out of a point into the host folder `to`
 * (made, private, when missing). Never over an existing file: the name it would take must be free.
 */
export async function extractPointFiles(repo: Repository, vm: string, options: PointFilesOptions & {readonly to: string}): Promise<{device: string; path: string; written: string}> {
	if (options.path === undefined) throw new SnapdeckError('usage', '--extract needs the path in the guest, as /etc/hosts');
	const {device, file} = parseGuestPath(options.path);
	const written = path.join(path.resolve(options.to), path.basename(file) || 'root');
	if (await lstat(written).then(() => true, () => false)) throw new SnapdeckError('refused', `${written} already exists; extracting never overwrites a file`, 'choose another --to folder, or move that one away');
	return openPoint(repo, vm, options, async (guestfs, filesystems) => {
		const on = chosen(filesystems, device, file);
		await guestfs.mount(on);
		await mkdir(path.resolve(options.to), {recursive: true, mode: 0o700});
		await guestfs.copyOut(file, path.resolve(options.to));
		return {device: on, path: file, written};
	});
}
