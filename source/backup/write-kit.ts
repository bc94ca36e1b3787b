import {chmod, readdir, rm} from 'node:fs/promises';
import path from 'node:path';
import type {Manifest} from '../core/backup-manifest.js';
import {
	KIT_FOLDER,
	kitDefinitionOf,
	kitDefinitionText,
	kitIndex,
	kitIndexOf,
	RESTORE_MD,
	RESTORE_SH,
	KIT_VERSION,
} from '../core/restore-kit.js';
import {writeFileAtomic} from '../adapters/state/atomic-file.js';
import {makeDirs, readStateFile, realFolder} from '../adapters/safe-fs.js';

/** Writes `text` to `file` (atomically) unless it holds exactly that already. */
async function keep(file: string, text: string, mode = 0o600): Promise<void> {
	if ((await readStateFile(file).catch(() => null)) === text) return;
	await writeFileAtomic(file, text);
	await chmod(file, mode);
}

/**
 * The restore kit at a repository's root (restore.sh, RESTORE.md, FORMAT), current: written by
 * every backup, so that a repository copied elsewhere restores without snapdeck.
 */
export async function keepKit(root: string): Promise<void> {
	await keep(path.join(root, 'restore.sh'), RESTORE_SH, 0o755);
	await keep(path.join(root, 'RESTORE.md'), RESTORE_MD, 0o644);
	await keep(path.join(root, 'FORMAT'), `snapdeck-repository ${KIT_VERSION}\n`, 0o644);
}

/**
 * Each complete point's kit index and definition in the VM's folder (VM/kit/), as the manifest
 * says now (a prune that merged points changed their files' checksums); those of points no longer
 * there removed. Called with every write of the manifest.
 */
export async function syncKit(vmDir: string, manifest: Manifest): Promise<void> {
	const dir = path.join(vmDir, KIT_FOLDER);
	const complete = manifest.points.filter(point => point.state === 'complete');
	const wanted = new Set<string>();
	if (complete.length > 0) await makeDirs(dir, "the restore kit's folder");
	// Files are written and removed in it: never through a link to another folder.
	if (!(await realFolder(dir, "the restore kit's folder"))) return;
	for (const point of complete) {
		const index = kitIndexOf(point.id);
		const definition = kitDefinitionOf(point.id, point.definition);
		wanted.add(path.basename(index)).add(path.basename(definition));
		await keep(path.join(vmDir, definition), kitDefinitionText(point.definition));
		await keep(path.join(vmDir, index), kitIndex(manifest, point.id));
	}
	for (const name of await readdir(dir).catch(() => [] as string[])) {
		if (!wanted.has(name) && !name.startsWith('.')) await rm(path.join(dir, name), {force: true});
	}
}
