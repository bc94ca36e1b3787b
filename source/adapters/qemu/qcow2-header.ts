import {open, stat, type FileHandle} from 'node:fs/promises';
import path from 'node:path';
import {errorMessage, SnapdeckError} from '../../core/errors.js';
import {liesOutsideAll} from '../file-checks.js';
import type {QemuImgInfo} from './qemu-img.js';

const QCOW2_MAGIC = 0x51_46_49_fb; // "QFI\xfb"

export interface Qcow2Header {
	readonly virtualSize: number;
	/** The backing file as an absolute path, or null. */
	readonly backing: string | null;
	/** The backing file's name as the header spells it. */
	readonly backingName: string | null;
	/** QEMU marked the image corrupt (incompatible feature bit 1). */
	readonly corrupt: boolean;
}

/**
 * The few fixed fields of a qcow2 header the inventory needs (the qcow2 specification, QEMU's
 * docs/interop/qcow2.txt): reading 104 bytes costs microseconds where starting qemu-img costs
 * milliseconds, which is most of the time of listing hundreds of VMs. Anything else is qemu-img's.
 */
export async function readQcow2Header(file: string, options: {excerpt?: boolean} = {}): Promise<Qcow2Header> {
	const handle = await open(file, 'r');
	try {
		return (await headerOf(handle, file, options.excerpt)).fields;
	} finally {
		await handle.close();
	}
}

/**
 * The first 104 bytes of an open image (zeroes past a short file's end) and the fields above, read
 * from them. `excerpt`: the file holds only the image's first bytes (an off-site copy's, read back
 * from restic), so where it ends says nothing of the image's length.
 */
async function headerOf(
	handle: FileHandle,
	file: string,
	excerpt = false,
): Promise<{bytes: Buffer; fields: Qcow2Header}> {
	const header = Buffer.alloc(104);
	const {bytesRead} = await handle.read(header, 0, 104, 0);
	const version = bytesRead >= 72 ? header.readUInt32BE(4) : 0;
	if (bytesRead < 72 || header.readUInt32BE(0) !== QCOW2_MAGIC || (version !== 2 && version !== 3)) {
		throw new SnapdeckError('failed', `${file} is not a qcow2 image`);
	}
	const damage = headerDamage(header, version);
	if (damage)
		throw new SnapdeckError('failed', `${file} cannot be opened by QEMU: its qcow2 header is damaged (${damage})`);
	// QEMU allocates the L1 and refcount tables whole: a file that ends before them was cut short
	// (its data past the cut reads as zeros, and a write there leaks clusters). One fstat: the
	// inventory's header reads (list) tell it too, not only a full inspection.
	const clusterSize = 2 ** header.readUInt32BE(20);
	const tablesEnd = Math.max(
		Number(header.readBigUInt64BE(40)) + header.readUInt32BE(36) * 8,
		Number(header.readBigUInt64BE(48)) + header.readUInt32BE(56) * clusterSize,
	);
	if (!excerpt && tablesEnd > (await handle.stat()).size)
		throw new SnapdeckError('failed', `${file} is truncated (a table ends past the end of the file)`);
	const backingOffset = Number(header.readBigUInt64BE(8));
	const backingLength = header.readUInt32BE(16);
	let backing: string | null = null;
	let backingName: string | null = null;
	if (backingOffset > 0 && backingLength > 0 && backingLength <= 1023) {
		const name = Buffer.alloc(backingLength);
		await handle.read(name, 0, backingLength, backingOffset);
		backingName = name.toString('utf8');
		backing = path.resolve(path.dirname(file), backingName);
	}
	const corrupt = version === 3 && bytesRead >= 80 && (header.readBigUInt64BE(72) & 2n) !== 0n;
	return {bytes: header, fields: {virtualSize: Number(header.readBigUInt64BE(24)), backing, backingName, corrupt}};
}

/**
 * Why a backing file name read from an image must not be followed, or null: QEMU takes a name with
 * a ':' before any '/' as a protocol (json:{...}, nbd://..., http:...), which would make it open
 * a connection or whatever the JSON says instead of a file. snapdeck follows only file names.
 */
export function backingNameProblem(name: string): string | null {
	const colon = name.indexOf(':');
	if (colon >= 0 && (name.indexOf('/') < 0 || colon < name.indexOf('/')))
		return `names a protocol ('${name.length > 60 ? `${name.slice(0, 57)}...` : name}'), not a file`;
	if (name.includes('\0') || name.length === 0) return 'is not a file name';
	return null;
}

/** Why a file an image names as its backing must not be opened (a device, a folder), or null. */
export async function backingFileProblem(file: string): Promise<string | null> {
	const found = await stat(file).catch(() => null);
	if (found === null || found.isFile()) return null;
	return found.isBlockDevice() || found.isCharacterDevice()
		? 'is a device, not an image file'
		: 'is not a regular file';
}

/** Incompatible feature bits QEMU 7.2 knows: dirty, corrupt, external data file, compression type, extended L2. */
const KNOWN_INCOMPATIBLE = 0x1fn;

/**
 * Why QEMU would refuse to open an image with this header (the checks of qcow2_do_open that need
 * no more than the header), or null: the inventory then says so instead of listing a disk that
 * cannot run.
 */
function headerDamage(header: Buffer, version: number): string | null {
	const clusterBits = header.readUInt32BE(20);
	if (clusterBits < 9 || clusterBits > 21) return `cluster bits ${clusterBits}`;
	const cluster = 2n ** BigInt(clusterBits);
	const aligned = (offset: bigint) => offset % cluster === 0n;
	if (header.readUInt32BE(32) > 1) return `unknown encryption method ${header.readUInt32BE(32)}`;
	const l1 = header.readBigUInt64BE(40);
	if (header.readUInt32BE(36) > 0 && !aligned(l1)) return `L1 table at unaligned offset ${l1}`;
	const refcounts = header.readBigUInt64BE(48);
	if (refcounts === 0n || !aligned(refcounts)) return `refcount table at offset ${refcounts}`;
	if (header.readUInt32BE(60) > 0 && !aligned(header.readBigUInt64BE(64)))
		return 'snapshot table at an unaligned offset';
	if (version === 3) {
		const unknown = header.readBigUInt64BE(72) & ~KNOWN_INCOMPATIBLE;
		if (unknown !== 0n) return `unknown incompatible features 0x${unknown.toString(16)}`;
		if (header.readUInt32BE(100) < 104) return `header length ${header.readUInt32BE(100)}`;
	}
	return null;
}

/**
 * A disk's chain from its headers, top first, with what is wrong with it (missing, not qcow2,
 * corrupt, a loop, a backing file that is a protocol, a device, or outside `within`).
 */
export function headerChain(
	file: string,
	within?: string,
	alsoWithin: readonly string[] = [],
): Promise<{chain: string[]; virtualSize: number; problem: string | null}> {
	return walkChain(file, readQcow2Header, {
		refuse: async next =>
			(await backingFileProblem(next)) ??
			(within !== undefined && liesOutsideAll([within, ...alsoWithin], next)
				? `lies outside the VM's folder ${within}`
				: null),
		failed: (error, what) =>
			(error as NodeJS.ErrnoException).code === 'ENOENT'
				? `${what} is missing`
				: `${what} cannot be read as a qcow2 image: ${errorMessage(error)}`,
	});
}

/**
 * Follows a chain layer by layer, each read by `read` (which must not open the layer's backing
 * file), and stops at the first problem: a loop, a backing name that is a protocol, a layer that
 * `refuse` rejects before it is read, a corrupt or unreadable one. Serves this host's files (the
 * headers themselves) and a remote host's (qemu-img info over ssh) alike.
 */
export async function walkChain(
	file: string,
	read: (file: string) => Promise<Pick<Qcow2Header, 'virtualSize' | 'backing' | 'backingName' | 'corrupt'>>,
	options: {refuse?: (backing: string) => Promise<string | null>; failed: (error: unknown, what: string) => string},
): Promise<{chain: string[]; virtualSize: number; problem: string | null}> {
	const chain: string[] = [];
	let virtualSize = 0;
	for (let next: string | null = file; next !== null;) {
		if (chain.includes(next))
			return {
				chain,
				virtualSize,
				problem: `the backing chain of ${file} loops (${[...chain.slice(chain.indexOf(next)), next].join(' → ')})`,
			};
		try {
			const unsafe = chain.length === 0 ? null : ((await options.refuse?.(next)) ?? null);
			if (unsafe) return {chain, virtualSize, problem: `the backing file of ${chain.at(-1)}, ${next}, ${unsafe}`};
			const header = await read(next);
			if (chain.length === 0) virtualSize = header.virtualSize;
			chain.push(next);
			if (header.corrupt) return {chain, virtualSize, problem: `${next} is marked corrupt by QEMU`};
			const badName = header.backingName === null ? null : backingNameProblem(header.backingName);
			if (badName) return {chain, virtualSize, problem: `the backing file of ${next} ${badName}`};
			next = header.backing;
		} catch (error) {
			return {
				chain,
				virtualSize,
				problem: options.failed(error, chain.length > 0 ? `${next} (the backing file of ${chain.at(-1)})` : file),
			};
		}
	}
	return {chain, virtualSize, problem: null};
}

/** The header extension that lists persistent dirty bitmaps (qcow2.txt, "Bitmaps extension"). */
const BITMAPS_EXTENSION = 0x23_85_28_75;
/** Autoclear feature bit 0: the bitmaps extension is valid (a program that did not know it cleared it). */
const AUTOCLEAR_BITMAPS = 1n;
const pad8 = (n: number) => (n + 7) & ~7;

/**
 * What `qemu-img info -U -f qcow2` reports of an image that the inspection uses (format, sizes,
 * backing file, corrupt flag, internal snapshots, persistent bitmaps), read from the file itself
 * as the qcow2 specification lays it out: the snapshot table and the bitmap directory are a few
 * hundred bytes where starting qemu-img costs ~15 ms. test/adapters/qcow2-header.test.ts checks it
 * against qemu-img on images qemu-img made. A file that is not qcow2 throws, as qemu-img fails.
 */
export async function qcow2Info(file: string): Promise<QemuImgInfo> {
	const handle = await open(file, 'r');
	try {
		const {
			bytes: header,
			fields: {virtualSize, backing, backingName, corrupt},
		} = await headerOf(handle, file);
		const read = async (length: number, position: number) => {
			// A damaged header can claim any size; no table snapdeck reads comes near 16 MiB.
			if (length > 16 * 1024 * 1024 || !Number.isSafeInteger(position))
				throw new SnapdeckError('failed', `${file} has a damaged header (a table of ${length} bytes at ${position})`);
			const buffer = Buffer.alloc(length);
			const {bytesRead} = await handle.read(buffer, 0, length, position);
			if (bytesRead < length)
				throw new SnapdeckError('failed', `${file} is truncated (a table ends past the end of the file)`);
			return buffer;
		};
		const version = header.readUInt32BE(4);
		const nbSnapshots = header.readUInt32BE(60);
		const snapshotsOffset = Number(header.readBigUInt64BE(64));
		const snapshots: NonNullable<QemuImgInfo['snapshots']> = [];
		for (let index = 0, at = snapshotsOffset; index < nbSnapshots; index++) {
			const entry = await read(40, at);
			const idSize = entry.readUInt16BE(12);
			const nameSize = entry.readUInt16BE(14);
			const extraSize = entry.readUInt32BE(36);
			const rest = await read(extraSize + idSize + nameSize, at + 40);
			// Version 3 keeps the 64-bit state size in the extra data; the 32-bit field is 0 there.
			const vmStateSize = extraSize >= 8 ? Number(rest.readBigUInt64BE(0)) : entry.readUInt32BE(32);
			snapshots.push({
				id: rest.toString('utf8', extraSize, extraSize + idSize),
				name: rest.toString('utf8', extraSize + idSize, extraSize + idSize + nameSize),
				'vm-state-size': vmStateSize,
				'date-sec': entry.readUInt32BE(16),
			});
			at += pad8(40 + extraSize + idSize + nameSize);
		}
		const bitmaps: Array<{name: string}> = [];
		if (version === 3 && (header.readBigUInt64BE(88) & AUTOCLEAR_BITMAPS) !== 0n) {
			const headerLength = header.readUInt32BE(100);
			for (let at = headerLength; ;) {
				const extension = await read(8, at);
				const type = extension.readUInt32BE(0);
				const length = extension.readUInt32BE(4);
				if (type === 0) break;
				if (type === BITMAPS_EXTENSION) {
					const data = await read(24, at + 8);
					const count = data.readUInt32BE(0);
					const directory = await read(Number(data.readBigUInt64BE(8)), Number(data.readBigUInt64BE(16)));
					for (let index = 0, offset = 0; index < count; index++) {
						const nameSize = directory.readUInt16BE(offset + 18);
						const extraSize = directory.readUInt32BE(offset + 20);
						bitmaps.push({
							name: directory.toString('utf8', offset + 24 + extraSize, offset + 24 + extraSize + nameSize),
						});
						offset += pad8(24 + extraSize + nameSize);
					}
				}
				at += 8 + pad8(length);
			}
		}
		return {
			filename: file,
			format: 'qcow2',
			'virtual-size': virtualSize,
			'actual-size': (await stat(file)).blocks * 512,
			...(backing === null ? {} : {'backing-filename': backingName!, 'full-backing-filename': backing}),
			...(snapshots.length > 0 ? {snapshots} : {}),
			'format-specific': {type: 'qcow2', data: {corrupt, ...(bitmaps.length > 0 ? {bitmaps} : {})}},
		};
	} finally {
		await handle.close();
	}
}
