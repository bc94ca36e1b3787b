import {rm} from 'node:fs/promises';
import path from 'node:path';
import {SnapdeckError} from '../../core/errors.js';
import type {StoredImage} from '../../core/snapshot-store.js';
import {fileExists} from '../file-checks.js';
import type {Host} from '../host.js';
import {matchSource} from '../safe-fs.js';
import {readQcow2Header} from './qcow2-header.js';
import type {QemuImg} from './qemu-img.js';

/**
 * Where a qcow2 store's images are, and what both qcow2 stores do with their files there: confine
 * the names a step gives, write backing references the way the adapter names them, never
 * overwrite an image, read an image back. `imageFolder`: a folder on this machine (a stopped VM's,
 * a backup repository's); `hostImages`: absolute paths on a Host, maybe over SSH (libvirt's pools).
 */
export interface ImageFolder {
	readonly qemuImg: QemuImg;
	/** A file a step names, where it is (refused where it may not be). */
	resolve(file: string): string;
	/** A backing reference as it must be written into `image`'s header. */
	backingFor(image: string, backing: string): string;
	exists(file: string): Promise<boolean>;
	remove(file: string): Promise<void>;
	/** Where `file`'s header says its backing file is (resolved), or null. */
	backingOf(file: string): Promise<string | null>;
	/** Gives a new image the mode and owner of the image it is made from, where the adapter does. */
	matchSource(file: string, source: string): Promise<void>;
	read(file: string): Promise<StoredImage>;
}

/**
 * Makes way for a new image `file`: nothing there, or a file this plan began before a crash.
 * Anything else is never overwritten, and is put in `notOurs` so that no rollback removes it.
 */
export async function freshTarget(
	images: ImageFolder,
	file: string,
	resuming: boolean,
	notOurs: Set<string>,
): Promise<void> {
	if (!(await images.exists(file))) return;
	if (!resuming) notOurs.add(file);
	if (!resuming)
		throw new SnapdeckError(
			'refused',
			`${images.resolve(file)} already exists; snapdeck never overwrites an image`,
			'inspect the file, then move it away',
		);
	await images.remove(file);
}

/** What qemu-img says of an image, named as `nameOf` names files. */
async function readImage(qemuImg: QemuImg, absolute: string, nameOf: (file: string) => string): Promise<StoredImage> {
	const info = await qemuImg.info(absolute);
	const backing = info['full-backing-filename'];
	return {
		backing: backing === undefined ? null : nameOf(path.resolve(path.dirname(absolute), backing)),
		snapshots: (info.snapshots ?? []).map(snapshot => snapshot.name),
	};
}

/** Images named relative to `folder` on this machine, confined to it. */
export function imageFolder(folder: string, qemuImg: QemuImg): ImageFolder {
	/**
	 * A plan resumed after a crash is read back from the folder's state (pending.json), where
	 * whoever else writes the folder could name any file.
	 */
	const resolve = (file: string) => {
		const absolute = path.resolve(folder, file);
		const inside = path.relative(folder, absolute);
		if (inside === '' || inside === '..' || inside.startsWith(`..${path.sep}`) || path.isAbsolute(inside)) {
			throw new SnapdeckError(
				'failed',
				`a step of the plan names ${file}, which is not a file in ${folder}: nothing was done with it`,
				`the plan on record was not written by snapdeck: look at ${path.join(folder, '.snapdeck', 'pending.json')}, and remove it if no snapdeck runs there`,
				'damaged',
			);
		}
		return absolute;
	};
	const nameOf = (absolute: string) => {
		const inside = path.relative(folder, absolute);
		return inside.startsWith('..') || path.isAbsolute(inside) ? absolute : inside;
	};
	return {
		qemuImg,
		resolve,
		// Relative to the image, as QEMU resolves it: the folder can move.
		backingFor: (image, backing) => path.relative(path.dirname(resolve(image)), resolve(backing)),
		exists: file => fileExists(resolve(file)),
		remove: file => rm(resolve(file), {force: true}),
		// The header says it (104 bytes read, no qemu-img process).
		backingOf: async file => (await readQcow2Header(resolve(file))).backing,
		matchSource: (file, source) => matchSource(resolve(file), resolve(source)),
		read: file => readImage(qemuImg, resolve(file), nameOf),
	};
}

/** Images named by absolute path on `host` (this machine or one over SSH), as libvirt names them. */
export function hostImages(host: Host, qemuImg: QemuImg): ImageFolder {
	return {
		qemuImg,
		resolve: file => file,
		// Absolute, as libvirt's own overlays name theirs.
		backingFor: (_image, backing) => backing,
		exists: file => host.exists(file),
		remove: file => host.remove(file),
		backingOf: async file => {
			const backing = (await qemuImg.info(file))['full-backing-filename'];
			return backing === undefined ? null : path.resolve(path.dirname(file), backing);
		},
		// libvirt gives the images it uses their owner and labels itself.
		matchSource: async () => undefined,
		read: file => readImage(qemuImg, file, name => name),
	};
}
