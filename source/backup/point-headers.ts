import {archiveFile, pointChain, type BackupFile, type BackupPoint, type Manifest} from '../core/backup-manifest.js';
import {readQcow2Header} from '../adapters/qemu/qcow2-header.js';
import type {Repository} from './repository.js';

/** headerProblems of every file of a point and of the points it builds on. */
export async function chainHeaderProblems(repo: Repository, manifest: Manifest, id: string): Promise<string[]> {
	const problems: string[] = [];
	for (const member of pointChain(manifest, id))
		problems.push(...(await headerProblems(repo, manifest.vm, member.files)));
	return problems;
}

/**
 * What is wrong with the headers of point files: each must be a qcow2 backed by exactly the file
 * the manifest names (its parent's), or by nothing for a full. A header changed to name another
 * file, a protocol or a device would make qemu-img read it into a restore.
 */
export async function headerProblems(repo: Repository, vm: string, files: readonly BackupFile[]): Promise<string[]> {
	const problems: string[] = [];
	for (const file of files) {
		const header = await readQcow2Header(repo.resolve(vm, file.file)).catch((error: Error) => error);
		if (header instanceof Error) {
			problems.push(
				(header as NodeJS.ErrnoException).code === 'ENOENT'
					? `${file.file} is missing`
					: `${file.file}: ${header.message}`,
			);
			continue;
		}
		const expected = file.backing === null ? null : repo.resolve(vm, file.backing);
		if (header.backing !== expected)
			problems.push(
				`${file.file} is backed by ${header.backingName ?? 'nothing'} in its header, but the manifest says ${file.backing ?? 'nothing'}`,
			);
	}
	return problems;
}

/**
 * What is wrong with a whole-VM archive's images: each must be there, and a qcow2 backed by
 * exactly the archive image the manifest names (by its file name, so it stays in the archive).
 */
export async function archiveProblems(repo: Repository, vm: string, point: BackupPoint): Promise<string[]> {
	const problems: string[] = [];
	for (const image of point.archive ?? []) {
		const file = archiveFile(point.id, image.name);
		const header = await readQcow2Header(repo.resolve(vm, file)).catch((error: Error) => error);
		if (header instanceof Error)
			problems.push(
				(header as NodeJS.ErrnoException).code === 'ENOENT' ? `${file} is missing` : `${file}: ${header.message}`,
			);
		else if (header.backingName !== image.backing)
			problems.push(
				`${file} is backed by ${header.backingName ?? 'nothing'} in its header, but the manifest says ${image.backing ?? 'nothing'}`,
			);
	}
	return problems;
}
