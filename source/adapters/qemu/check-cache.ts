import {lstat} from 'node:fs/promises';
import path from 'node:path';
import os from 'node:os';
import {userDir} from '../../core/user-dirs.js';
import {stateFolder, readStateFile} from '../safe-fs.js';
import {writeFileAtomic} from '../state/atomic-file.js';
import type {QemuImg, QemuImgCheck} from './qemu-img.js';

/**
 * Clean `qemu-img check` verdicts of images nothing was writing (a snapshot's, a stopped VM's),
 * kept on this host so that `health` does not read every table of every image each time it runs
 * (on 200 VMs with 3-image chains: 600 checks, most of health's time). An image is checked again
 * as soon as anything about it changes: the key is its device, inode, size, and modification and
 * change times in nanoseconds (a write moves them; the change time cannot be set back by a user),
 * read before and after the check. Only clean verdicts are kept: a damaged image is checked every
 * time. What a running QEMU writes never comes here (its own corrupt flag judges it). Losing the
 * file loses nothing but time, so it is written whole (writeFileAtomic) without an fsync.
 * SNAPDECK_CHECK_CACHE names another file, or `off` checks every image every time.
 */
const cacheFile = () =>
	process.env['SNAPDECK_CHECK_CACHE'] ?? path.join(userDir('cache', process.env, os.homedir()), 'image-checks.json');

/** At most this many verdicts are kept (the newest), so that a host whose images come and go does not grow it forever. */
const LIMIT = 20_000;

let loaded: Promise<Map<string, string>> | null = null;
let saving: Promise<void> | null = null;
let again = false;

async function verdicts(): Promise<Map<string, string>> {
	loaded ??= (async () => {
		const text = await readStateFile(cacheFile()).catch(() => null);
		try {
			const entries = JSON.parse(text ?? '{}') as unknown;
			if (typeof entries !== 'object' || entries === null || Array.isArray(entries)) return new Map<string, string>();
			return new Map(
				Object.entries(entries).filter((entry): entry is [string, string] => typeof entry[1] === 'string'),
			);
		} catch {
			return new Map<string, string>();
		}
	})();
	return loaded;
}

async function save(): Promise<void> {
	if (saving) {
		again = true;
		return saving;
	}
	saving = (async () => {
		do {
			again = false;
			const map = await verdicts();
			const file = cacheFile();
			try {
				await stateFolder(path.dirname(file), 'the cache folder');
				await writeFileAtomic(file, JSON.stringify(Object.fromEntries([...map].slice(-LIMIT))), {durable: false});
			} catch {
				// A cache that cannot be written costs time on the next run, nothing else.
			}
		} while (again);
	})().finally(() => {
		saving = null;
	});
	return saving;
}

/** What names an image's exact state: the same key means the same bytes, as far as the file system tells. */
async function keyOf(file: string): Promise<string | null> {
	const stats = await lstat(file, {bigint: true}).catch(() => null);
	if (!stats?.isFile()) return null;
	return `${stats.dev}:${stats.ino}:${stats.size}:${stats.mtimeNs}:${stats.ctimeNs}`;
}

/** `qemu-img check` of an image; one on this host (`frozen`: nothing writes it now) that checked clean and has not changed since is not read again. */
export async function checkOnce(qemuImg: QemuImg, file: string, frozen: boolean): Promise<QemuImgCheck> {
	if (!frozen || process.env['SNAPDECK_CHECK_CACHE'] === 'off') return qemuImg.check(file);
	const key = await keyOf(file);
	const map = await verdicts();
	if (key !== null && map.get(file) === key) return {filename: file, 'check-errors': 0, corruptions: 0, leaks: 0};
	const check = await qemuImg.check(file);
	const clean = check['check-errors'] === 0 && (check.corruptions ?? 0) === 0 && (check.leaks ?? 0) === 0;
	// The key is read again after the check: an image that changed while it was read is not kept.
	if (clean && key !== null && (await keyOf(file)) === key) {
		map.delete(file);
		map.set(file, key);
		void save();
	}
	return check;
}
