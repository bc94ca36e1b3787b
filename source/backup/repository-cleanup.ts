import {readdir, rm} from 'node:fs/promises';
import path from 'node:path';
import type {Manifest} from '../core/backup-manifest.js';
import {realFolder} from '../adapters/safe-fs.js';
import type {Repository} from './repository.js';

/**
 * Removes what an interrupted run left: points still marked partial, and point files that no
 * point names (a run killed before it recorded them). Returns the manifest without them.
 */
export async function cleanupRepository(
	repo: Repository,
	manifest: Manifest,
): Promise<{manifest: Manifest; removed: string[]}> {
	const dir = repo.vmDir(manifest.vm);
	// Each folder whose entries are removed here is a real folder of these backups, never a link to elsewhere.
	for (const folder of ['', 'archive', 'boot', path.join('.snapdeck', 'boot')])
		await realFolder(path.join(dir, folder), `the folder of ${manifest.vm}'s backups`);
	const complete = manifest.points.filter(point => point.state === 'complete');
	const named = new Set(complete.flatMap(point => point.files.map(file => file.file)));
	const removed: string[] = [];
	const subdirs = (await readdir(dir, {withFileTypes: true}).catch(() => [])).filter(
		entry =>
			entry.isDirectory() &&
			!entry.name.startsWith('.') &&
			entry.name !== 'archive' &&
			entry.name !== 'boot' &&
			entry.name !== 'kit',
	);
	for (const subdir of subdirs) {
		for (const name of await readdir(path.join(dir, subdir.name))) {
			const file = `${subdir.name}/${name}`;
			if (named.has(file) || !name.endsWith('.qcow2')) continue;
			await rm(path.join(dir, file), {force: true});
			removed.push(file);
		}
	}
	// Archives of points that are not (or no longer) complete: a run killed while it copied them.
	const archived = new Set(complete.filter(point => point.archive !== null).map(point => point.id));
	for (const id of await readdir(path.join(dir, 'archive')).catch(() => [] as string[])) {
		if (archived.has(id)) continue;
		await rm(path.join(dir, 'archive', id), {recursive: true, force: true});
		removed.push(`archive/${id}`);
	}
	// Boot files (kernel, initramfs) of points that are not, or no longer, complete.
	const kept = new Set(complete.filter(point => point.bootFiles.length > 0).map(point => point.id));
	for (const id of await readdir(path.join(dir, 'boot')).catch(() => [] as string[])) {
		if (kept.has(id)) continue;
		await rm(path.join(dir, 'boot', id), {recursive: true, force: true});
		removed.push(`boot/${id}`);
	}
	// Boot-test evidence of points that are gone (pruned), and overlays a crashed boot test left.
	const points = new Set(complete.map(point => point.id));
	for (const entry of await readdir(path.join(dir, '.snapdeck', 'boot')).catch(() => [] as string[])) {
		if (points.has(entry)) continue;
		await rm(path.join(dir, '.snapdeck', 'boot', entry), {recursive: true, force: true});
		removed.push(`.snapdeck/boot/${entry}`);
	}
	const cleaned = {...manifest, points: complete};
	if (complete.length !== manifest.points.length) await repo.write(cleaned);
	return {manifest: cleaned, removed};
}
