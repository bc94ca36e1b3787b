import {rm} from 'node:fs/promises';
import {chainHeaderProblems} from './point-headers.js';
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
	const problems = await chainHeaderProblems(repo, manifest, point.id);
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

/** A point opened for browsing: one boot of libguestfs's appliance serves every listing until close(). */
export interface PointBrowser {
	/** The point's filesystems (no path), or a folder (or file) in one of them, as listPointFiles gives it. */
	list(path?: string): Promise<PointListing>;
	/** Stops the appliance and gives the VM's backups back to other jobs. Safe to call twice. */
	close(): Promise<void>;
	/** False once the appliance is gone (closed, guestfish stopped, or a command of it failed or timed out): a new browser is needed. */
	readonly open: boolean;
}

/**
 * Opens a point for browsing: its images are checked, the VM's backups locked (read-only: a
 * prune cannot rewrite a point file the appliance is reading; the lock names the browsing), and
 * libguestfs's appliance started once over them; each listing then takes a round trip instead of
 * a boot (about 20 s under emulation). Listings run one at a time. Nothing is written to the
 * point; guestfish's scratch folder (its HOME) is a private temporary folder, removed on close,
 * and those killed listings left are removed first.
 */
export async function openPointBrowser(
	repo: Repository,
	vm: string,
	options: Omit<PointFilesOptions, 'path'>,
): Promise<PointBrowser> {
	await sweepGuestfsScratch();
	const release = await repo.lock(vm, options.command, {readOnly: true});
	let scratch: string | undefined;
	let guestfs: Guestfs | undefined;
	let open = true;
	const close = async () => {
		open = false;
		try {
			await guestfs?.close();
		} finally {
			try {
				if (scratch !== undefined) await rm(scratch, {recursive: true, force: true});
			} finally {
				await release();
			}
		}
	};
	try {
		const {images} = await pointImages(repo, vm, options.point);
		scratch = await makeGuestfsScratch();
		guestfs = await Guestfs.open(images, {signal: options.signal, scratch});
	} catch (error) {
		guestfs = undefined;
		await close();
		throw error;
	}
	const fish = guestfs;
	const filesystems = await fish.filesystems().catch(async (error: unknown) => {
		await close();
		throw error;
	});
	let mounted: string | null = null;
	// One listing at a time: guestfish answers its commands in order, and a mount serves the listing after it.
	let queue: Promise<unknown> = Promise.resolve();
	const listing = async (text: string | undefined): Promise<PointListing> => {
		if (!open) throw new SnapdeckError('failed', `the browsing of point ${options.point} of ${vm} has ended`);
		if (text === undefined) return {kind: 'filesystems', filesystems};
		const guestPath = parseGuestPath(text);
		const on = chosen(filesystems, guestPath.device, guestPath.shown);
		try {
			if (mounted !== on) {
				if (mounted !== null) await fish.run('umount-all');
				mounted = null;
				await fish.mount(on);
				mounted = on;
			}
			return {kind: 'entries', device: on, path: guestPath.shown, entries: await fish.list(guestPath.file)};
		} catch (error) {
			// A command failed or timed out, or guestfish is gone (its appliance crashed): it takes no more
			// commands (a late answer would be read as the next listing's), so this browser is spent, its lock
			// given back; the next listing opens the point again.
			if (!fish.usable) await close();
			throw error;
		}
	};
	return {
		list: text => {
			const next = queue.then(() => listing(text));
			queue = next.catch(() => undefined);
			return next;
		},
		close,
		get open() {
			return open;
		},
	};
}

/**
 * Lists the point's filesystems, or a folder (or file) in one of them: every entry, of every
 * kind, through a browser opened for this one listing.
 */
export async function listPointFiles(repo: Repository, vm: string, options: PointFilesOptions): Promise<PointListing> {
	// A path that cannot be one is refused before anything is locked or booted.
	if (options.path !== undefined) parseGuestPath(options.path);
	const browser = await openPointBrowser(repo, vm, options);
	try {
		return await browser.list(options.path);
	} finally {
		await browser.close();
	}
}
