import type {BackupPoint, Manifest} from './backup-manifest.js';
import {SnapdeckError} from './errors.js';
import type {ImageInfo} from './model.js';
import {makePlan, type Plan, type Step} from './plan.js';
import {commit, deleteImage, rebase} from './steps.js';

const writeManifest = (manifest: Manifest, rehash: readonly string[]): Step => ({
	op: 'write-manifest',
	manifest,
	rehash,
	summary: `record the remaining ${manifest.points.length} point${manifest.points.length === 1 ? '' : 's'} in the manifest${rehash.length > 0 ? ` (new checksums of ${rehash.join(', ')})` : ''}`,
	reads: rehash,
	writes: ['manifest.json'],
	creates: [],
	deletes: [],
	// What it reads: each file it hashes again (its progress is the hashing's).
	bytes: manifest.points
		.flatMap(point => point.files)
		.filter(file => rehash.includes(file.file))
		.reduce((sum, file) => sum + file.size, 0),
	space: 0,
	undo: 'the previous manifest is kept in the journal',
});

/** What a prune builds as it goes: the images as the steps leave them, the merge steps, the deletes (after the manifest), and the files whose checksum changes. */
interface PruneWork {
	readonly images: Record<string, ImageInfo>;
	readonly steps: Step[];
	readonly deletes: Step[];
	readonly rehash: Set<string>;
}

type PointFile = BackupPoint['files'][number];

/**
 * Removes backup points while every kept point stays restorable: a point that a later one builds
 * on is first merged into that successor, by the same steps as a snapshot merge. Where the
 * successor is the smaller, it is committed down into the removed point's file (which then holds
 * the successor, and its own successor is re-pointed at it); otherwise the removed point is
 * streamed up into the successor. The manifest is rewritten before any file is deleted, so a crash
 * leaves at most unlisted files, which the next run removes.
 */
export function planPrune(manifest: Manifest, remove: readonly string[]): Plan {
	const removing = new Set(remove);
	for (const id of removing) {
		if (!manifest.points.some(point => point.id === id && point.state === 'complete'))
			throw new SnapdeckError(
				'not-found',
				`${manifest.vm} has no complete backup point '${id}'`,
				undefined,
				'no-such-point',
			);
	}
	const work: PruneWork = {images: imagesOf(manifest), steps: [], deletes: [], rehash: new Set<string>()};
	let points: BackupPoint[] = manifest.points
		.filter(point => point.state === 'complete')
		.map(point => ({...point, files: point.files.map(file => ({...file}))}));
	// Newest first: a removed point that only removed points build on is then simply deleted, so
	// removing an old full with its incrementals copies nothing (and needs no free space).
	for (const id of manifest.points
		.map(point => point.id)
		.filter(id => removing.has(id))
		.reverse()) {
		const removed = points.find(point => point.id === id)!;
		const successor = points.find(point => point.parent === id);
		if (successor)
			mergeIntoSuccessor(
				work,
				removed,
				successor,
				points.find(point => point.parent === successor.id),
			);
		else for (const own of removed.files) work.deletes.push(deleteImage(work.images, own.disk, own.file));
		points = points.filter(point => point !== removed);
	}
	const kept = points.map(point => point.id);
	const listed = new Set(points.flatMap(point => point.files.map(file => file.file)));
	return makePlan({
		action: 'prune',
		vm: manifest.vm,
		snapshot: [...removing].join(', '),
		summary: `remove ${removing.size} backup point${removing.size === 1 ? '' : 's'} of ${manifest.vm}, keeping ${kept.length}${kept.length > 0 ? ` (${kept.join(', ')})` : ''}`,
		steps:
			removing.size === 0
				? []
				: [
						...work.steps,
						writeManifest(
							{...manifest, points},
							[...work.rehash].filter(file => listed.has(file)),
						),
						...work.deletes,
					],
		discards: [...removing].map(id => `backup point ${id}`),
		warnings: [],
	});
}

/** Every file of the manifest's points as the image the merge steps plan over. */
function imagesOf(manifest: Manifest): Record<string, ImageInfo> {
	const images: Record<string, ImageInfo> = {};
	for (const point of manifest.points) {
		for (const file of point.files) {
			images[file.file] = {
				file: file.file,
				format: 'qcow2',
				virtualSize: file.virtualSize,
				actualSize: file.size,
				backing: file.backing,
				internalSnapshots: [],
				bitmaps: [],
			};
		}
	}
	return images;
}

/** Merges a removed point into the one that builds on it, disk by disk; the successor then stands where the removed point stood. */
function mergeIntoSuccessor(
	work: PruneWork,
	removed: BackupPoint,
	successor: BackupPoint,
	after: BackupPoint | undefined,
) {
	for (const own of removed.files) {
		const next = successor.files.find(file => file.disk === own.disk);
		if (!next)
			throw new SnapdeckError(
				'refused',
				`cannot remove point ${removed.id}: point ${successor.id}, which builds on it, has no ${own.disk}`,
				'the manifest is inconsistent; verify the repository',
			);
		const third = after?.files.find(file => file.disk === own.disk);
		if (next.size <= own.size) commitDown(work, own, next, third);
		else streamUp(work, own, next);
	}
	Object.assign(successor, {kind: removed.kind, parent: removed.parent, verified: null, boot: null});
}

/** The smaller successor's file is committed into the removed point's file, which then holds the successor; the point after it is re-pointed there. */
function commitDown(
	{images, steps, deletes, rehash}: PruneWork,
	own: PointFile,
	next: PointFile,
	third: PointFile | undefined,
) {
	steps.push(commit(images, own.disk, next.file, own.file));
	if (third) steps.push(rebase(images, own.disk, third.file, next.file, own.file, false));
	deletes.push(deleteImage(images, own.disk, next.file));
	images[own.file] = {...images[own.file]!, actualSize: own.size + next.size};
	if (third) {
		// A header-only rebase still changes the file's bytes: its checksum too.
		third.backing = own.file;
		rehash.add(third.file);
	}
	rehash.delete(next.file);
	rehash.add(own.file);
	Object.assign(next, {file: own.file, backing: own.backing, size: own.size + next.size});
}

/** The removed point's file is streamed up into the larger successor's, which then backs onto what the removed one did. */
function streamUp({images, steps, deletes, rehash}: PruneWork, own: PointFile, next: PointFile) {
	steps.push(rebase(images, own.disk, next.file, own.file, own.backing, true));
	deletes.push(deleteImage(images, own.disk, own.file));
	rehash.delete(own.file);
	rehash.add(next.file);
	Object.assign(next, {backing: own.backing, size: own.size + next.size});
}
