import {open, stat, type FileHandle} from 'node:fs/promises';
import path from 'node:path';
import {SnapdeckError} from '../core/errors.js';
import type {QemuImgInfo} from './qemu-img.js';

const QCOW2_MAGIC = 0x51_46_49_fb; // "QFI\xfb"

export interface Qcow2Header {
	readonly virtualSize: number;
	/** The backing file as an absolute path, or null. */
	readonly backing: string | null;
	/** QEMU marked the image corrupt (incompatible feature bit 1). */
	readonly corrupt: boolean;
}

/**
 * The few fixed fields of a qcow2 header the inventory needs (the qcow2 specification, QEMU's
 * docs/interop/qcow2.txt): reading 104 bytes costs microseconds where starting qemu-img costs
 * milliseconds, which is most of the time of listing hundreds of VMs. Anything else is qemu-img's.
 */
export async function readQcow2Header(file: string): Promise<Qcow2Header> {
	const handle = await open(file, 'r');
	try {
		return (await headerOf(handle, file)).fields;
	} finally {
		await handle.close();
	}
}

/** The first 104 bytes of an open image (zeroes past a short file's end) and the fields above, read from them. */
async function headerOf(handle: FileHandle, file: string): Promise<{bytes: Buffer; fields: Qcow2Header}> {
	const header = Buffer.alloc(104);
	const {bytesRead} = await handle.read(header, 0, 104, 0);
	const version = bytesRead >= 72 ? header.readUInt32BE(4) : 0;
	if (bytesRead < 72 || header.readUInt32BE(0) !== QCOW2_MAGIC || (version !== 2 && version !== 3)) {
		throw new SnapdeckError('failed', `${file} is not a qcow2 image`);
	}
	const backingOffset = Number(header.readBigUInt64BE(8));
	const backingLength = header.readUInt32BE(16);
	let backing: string | null = null;
	if (backingOffset > 0 && backingLength > 0 && backingLength <= 1023) {
		const name = Buffer.alloc(backingLength);
		await handle.read(name, 0, backingLength, backingOffset);
		backing = path.resolve(path.dirname(file), name.toString('utf8'));
	}
	const corrupt = version === 3 && bytesRead >= 80 && (header.readBigUInt64BE(72) & 2n) !== 0n;
	return {bytes: header, fields: {virtualSize: Number(header.readBigUInt64BE(24)), backing, corrupt}};
}

/** A disk's chain from its headers, top first, with what is wrong with it (missing, not qcow2, corrupt). */
export async function headerChain(file: string): Promise<{chain: string[]; virtualSize: number; problem: string | null}> {
	const chain: string[] = [];
	let virtualSize = 0;
	for (let next: string | null = file; next !== null && !chain.includes(next); ) {
		try {
			const header = await readQcow2Header(next);
			if (chain.length === 0) virtualSize = header.virtualSize;
			chain.push(next);
			if (header.corrupt) return {chain, virtualSize, problem: `${next} is marked corrupt by QEMU`};
			next = header.backing;
		} catch (error) {
			const missing = (error as NodeJS.ErrnoException).code === 'ENOENT';
			const what = chain.length > 0 ? `${next} (the backing file of ${chain.at(-1)})` : next;
			return {chain, virtualSize, problem: missing ? `${what} is missing` : `${what} cannot be read as a qcow2 image: ${(error as Error).message}`};
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
		const {bytes: header, fields: {virtualSize, backing, corrupt}} = await headerOf(handle, file);
		const read = async (length: number, position: number) => {
			// A damaged header can claim any size; no table snapdeck reads comes near 16 MiB.
			if (length > 16 * 1024 * 1024 || !Number.isSafeInteger(position)) throw new SnapdeckError('failed', `${file} has a damaged header (a table of ${length} bytes at ${position})`);
			const buffer = Buffer.alloc(length);
			const {bytesRead} = await handle.read(buffer, 0, length, position);
			if (bytesRead < length) throw new SnapdeckError('failed', `${file} is truncated (a table ends past the end of the file)`);
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
			for (let at = headerLength; ; ) {
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
						bitmaps.push({name: directory.toString('utf8', offset + 24 + extraSize, offset + 24 + extraSize + nameSize)});
						offset += pad8(24 + extraSize + nameSize);
					}
				}
				at += 8 + pad8(length);
			}
		}
		return {
			filename: file, format: 'qcow2', 'virtual-size': virtualSize, 'actual-size': (await stat(file)).blocks * 512,
			...(backing === null ? {} : {'full-backing-filename': backing}),
			...(snapshots.length > 0 ? {snapshots} : {}),
			'format-specific': {type: 'qcow2', data: {corrupt, ...(bitmaps.length > 0 ? {bitmaps} : {})}},
		};
	} finally {
		await handle.close();
	}
}
