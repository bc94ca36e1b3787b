import {constants} from 'node:fs';
import {chmod, copyFile, stat} from 'node:fs/promises';
import path from 'node:path';
import {archiveFile, type ArchiveImage} from '../core/backup-manifest.js';
import {assertNoProblems} from '../core/consistency.js';
import {SnapdeckError} from '../core/errors.js';
import type {JobContext} from '../core/progress.js';
import {localRunner} from '../adapters/exec.js';
import {QemuImg} from '../adapters/qemu/qemu-img.js';
import {readQcow2Header} from '../adapters/qemu/qcow2-header.js';
import {makeDirs} from '../adapters/safe-fs.js';
import {fsyncFile} from '../adapters/state/atomic-file.js';
import {type Hypervisor, roleOf} from '../adapters/hypervisor.js';
import type {Repository} from './repository.js';
import {sha256File} from './hashing.js';

/** What a whole-VM archive copies: every image of the VM's snapshot tree, and what the adapter restores it from where the point's definition is not enough. */
export type ArchiveSource = {
	readonly images: ReadonlyArray<{name: string; path: string; backing: string | null}>;
	readonly definition?: unknown;
};

/** The images a whole-VM archive copies; only of a stopped VM, whose images nothing writes meanwhile. */
export async function archiveSource(hypervisor: Hypervisor, vm: string): Promise<ArchiveSource> {
	const archives = roleOf(
		hypervisor,
		'archives',
		'archive a VM with its snapshots',
		'back it up without --with-snapshots, or use a local: connection',
	);
	const inspection = await hypervisor.inspect(vm);
	assertNoProblems(vm, 'archive', inspection.problems);
	if (inspection.state.run !== 'stopped')
		throw new SnapdeckError(
			'refused',
			`${vm} is ${inspection.state.run}: a whole-VM archive copies its image files as they are, so it must be stopped`,
			`stop it ('snapdeck stop ${vm}') and run the backup again, or back up without --with-snapshots (the present state, live)`,
		);
	return archives.archiveImages(inspection);
}

/** Copies a whole-VM archive's images into archive/ID/, each as it is, private, hashed and durable. */
export async function copyArchive(
	repo: Repository,
	vm: string,
	id: string,
	source: ArchiveSource,
	job: JobContext,
	signal?: AbortSignal,
): Promise<ArchiveImage[]> {
	const dir = path.dirname(repo.resolve(vm, archiveFile(id, 'x')));
	await makeDirs(dir, 'the backup repository');
	const images: ArchiveImage[] = [];
	for (const image of source.images) {
		signal?.throwIfAborted();
		const target = repo.resolve(vm, archiveFile(id, image.name));
		await copyFile(image.path, target, constants.COPYFILE_EXCL);
		await chmod(target, 0o600);
		// Its backing file by the archive's own name: a header naming the VM's image by an absolute
		// path would make the archive read the live VM.
		if (image.backing !== null && (await readQcow2Header(target)).backingName !== image.backing)
			await new QemuImg(localRunner).rebase(target, image.backing, {unsafe: true});
		const [sha256] = await Promise.all([sha256File(target, signal), fsyncFile(target)]);
		images.push({name: image.name, backing: image.backing, size: (await stat(target)).size, sha256});
		if (images.length === 1) job.step('archiving');
	}
	return images;
}
