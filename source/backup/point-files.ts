import {rm} from 'node:fs/promises';
import {findPoint} from '../core/backup-manifest.js';
import {SnapdeckError} from '../core/errors.js';
import {escapeName, unescapeName} from '../core/guest-names.js';
import {Guestfs, type GuestEntry, type GuestFilesystem} from '../adapters/guestfs.js';
import {makeGuestfsScratch, sweepGuestfsScratch} from '../adapters/guestfs-scratch.js';
import {localRunner} from '../adapters/exec.js';
import {QemuImg} from '../adapters/qemu/qemu-img.js';
import {QemuIo} from '../adapters/qemu-io.js';
import type {Repository} from './repository.js';

export interface PointFilesOptions {
	readonly point: string;
	/** `[DEVICE:]/path`: a folder or file in one of the point's filesystems, escaped as names are listed; none: the filesystems. */
	readonly path?: string;
	readonly command: string;
	readonly signal?: AbortSignal;
}

export type PointListing =
	| {readonly kind: 'filesystems'; readonly filesystems: readonly GuestFilesystem[]}
	| {readonly kind: 'entries'; readonly device: string; readonly path: string; readonly entries: readonly GuestEntry[]};

/**
 * `[DEVICE:]/path` split; the device may be omitted where the point has one filesystem. The path
 * is escaped as listings show names (core/guest-names.ts): `file` is its bytes, `shown` its
 * escaped form again, tidied.
 */
export function parseGuestPath(text: string): {device: string | null; file: Buffer; shown: string} {
	const match = text.match(/^(\/dev\/[^:]+):(\/.*)$/s);
	const given = match ? match[2]! : text;
	if (!given.startsWith('/'))
		throw new SnapdeckError(
			'usage',
			`'${text}': give an absolute path in the guest, as /etc/hosts, or DEVICE:/path (as /dev/sda1:/etc/hosts)`,
		);
	const parts = unescapeName(given).toString('latin1').split('/');
	if (parts.includes('..')) throw new SnapdeckError('usage', `'${text}': a path in the guest may not contain '..'`);
	const file = Buffer.from(`/${parts.filter(part => part !== '').join('/')}`, 'latin1');
	return {device: match ? match[1]! : null, file, shown: escapeName(file)};
}

const MiB = 1024 * 1024;
const NO_FILESYSTEM = "libguestfs finds no filesystem it can read on the point's disks";

/**
 * Refuses at once (before libguestfs's appliance boots, ~30 s under emulation) a point whose
 * disks cannot hold a filesystem: where the first and the last MiB of every disk each hold one
 * byte value throughout (never written, or filled by a pattern, as the demo's disks), there is
 * no partition table (MBR, GPT and its backup at the end), no LVM, RAID or LUKS label and no
 * filesystem superblock (all within the first MiB, or the last for RAID 0.90/1.0 and ZFS), so
 * nothing libguestfs could find. Anything else is left to libguestfs to judge.
 */
export async function assertMayHoldFilesystem(images: readonly string[]): Promise<void> {
	const qemuIo = new QemuIo(localRunner);
	const qemuImg = new QemuImg(localRunner);
	for (const image of images) {
		const size = (await qemuImg.info(image))['virtual-size'];
		const ranges =
			size <= 2 * MiB
				? [[0, size]]
				: [
						[0, MiB],
						[size - MiB, MiB],
					];
		const firsts = await qemuIo.bytesAt(
			image,
			ranges.map(([offset]) => offset!),
		);
		for (const [index, [offset, length]] of ranges.entries()) {
			if (!(await qemuIo.holds(image, firsts[index]!, offset!, length!))) return;
		}
	}
	throw new SnapdeckError(
		'not-found',
		NO_FILESYSTEM,
		'the first and the last MiB of each of its disks hold one byte value throughout: no partition table, volume label or filesystem is there to list or copy from',
	);
}

/**
 * The point's images, checked first against the manifest as every read of a point is: each
 * disk's point file, the points under it as its backing chain.
 */
export async function pointImages(
	repo: Repository,
	vm: string,
	id: string,
): Promise<{point: string; images: string[]}> {
	const manifest = await repo.read(vm);
	const point = findPoint(manifest, id);
	if (point.state !== 'complete')
		throw new SnapdeckError('refused', `point ${point.id} is partial (an interrupted backup): its files are not whole`);
	const problems = await repo.chainHeaderProblems(manifest, point.id);
	if (problems.length > 0)
		throw new SnapdeckError(
			'failed',
			`cannot read point ${point.id}: ${problems.join('; ')}`,
			`run 'snapdeck verify ${vm}'`,
		);
	const images = point.files.map(file => repo.resolve(vm, file.file));
	await assertMayHoldFilesystem(images);
	return {point: point.id, images};
}

/** The filesystem a path names, or the only one there is. */
export function chosen(filesystems: readonly GuestFilesystem[], device: string | null, text: string): string {
	if (filesystems.length === 0) throw new SnapdeckError('not-found', NO_FILESYSTEM);
	if (device !== null) {
		if (!filesystems.some(fs => fs.device === device))
			throw new SnapdeckError(
				'not-found',
				`the point has no filesystem ${device}`,
				`it has: ${filesystems.map(fs => `${fs.device} (${fs.type})`).join(', ')}`,
			);
		return device;
	}
	if (filesystems.length > 1)
		throw new SnapdeckError(
			'usage',
			`the point has ${filesystems.length} filesystems: say which, as DEVICE:${text}`,
			`they are: ${filesystems.map(fs => `${fs.device} (${fs.type})`).join(', ')}`,
		);
	return filesystems[0]!.device;
}

/**
 * Lists the point's filesystems, or a folder (or file) in one of them: every entry, of every
 * kind. Nothing is written to the point; guestfish's scratch folder (its HOME) is a private
 * temporary folder, removed after, and those killed listings left are removed first.
 */
export async function listPointFiles(repo: Repository, vm: string, options: PointFilesOptions): Promise<PointListing> {
	const guestPath = options.path === undefined ? null : parseGuestPath(options.path);
	await sweepGuestfsScratch();
	const release = await repo.lock(vm, options.command, {readOnly: true});
	try {
		const {images} = await pointImages(repo, vm, options.point);
		const scratch = await makeGuestfsScratch();
		try {
			const guestfs = await Guestfs.open(images, {signal: options.signal, scratch});
			try {
				const filesystems = await guestfs.filesystems();
				if (guestPath === null) return {kind: 'filesystems', filesystems};
				const on = chosen(filesystems, guestPath.device, guestPath.shown);
				await guestfs.mount(on);
				return {kind: 'entries', device: on, path: guestPath.shown, entries: await guestfs.list(guestPath.file)};
			} finally {
				await guestfs.close();
			}
		} finally {
			await rm(scratch, {recursive: true, force: true});
		}
	} finally {
		await release();
	}
}
