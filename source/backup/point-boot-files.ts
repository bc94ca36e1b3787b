import {constants} from 'node:fs';
import {chmod, copyFile, link, rename, stat} from 'node:fs/promises';
import path from 'node:path';
import {bootFileOf, type BackupPoint, type BootFile} from '../core/backup-manifest.js';
import {SnapdeckError} from '../core/errors.js';
import type {BackupDriver} from '../adapters/hypervisor.js';
import {makeDirs} from '../adapters/safe-fs.js';
import {fsyncFile} from '../adapters/state/atomic-file.js';
import type {Repository} from './repository.js';
import {sha256File} from './hashing.js';

/**
 * Copies what the VM needs to start besides its disks (a direct-boot kernel and initramfs, UEFI
 * variables) into the point: boot/ID/ROLE, private, hashed and durable. One the previous point
 * holds unchanged is linked, not copied again.
 */
export async function copyBootFiles(
	repo: Repository,
	vm: string,
	id: string,
	files: NonNullable<BackupDriver['bootFiles']>,
	previous: BackupPoint | null | undefined,
	signal?: AbortSignal,
): Promise<BootFile[]> {
	const copied: BootFile[] = [];
	for (const source of files) {
		signal?.throwIfAborted();
		const file = bootFileOf(id, source.role);
		const target = repo.resolve(vm, file);
		await makeDirs(path.dirname(target), 'the backup repository');
		await (source.fetch ? source.fetch(target) : copyFile(source.path, target, constants.COPYFILE_EXCL)).catch(
			(error: NodeJS.ErrnoException) => {
				throw new SnapdeckError(
					'failed',
					`cannot copy ${vm}'s ${source.role} (${source.name}) into the point: ${error.code === 'ENOENT' ? 'it is missing' : error.message}`,
					`a VM that boots a kernel from a file needs it there to be backed up whole: put ${source.name} back, or change the VM's definition`,
				);
			},
		);
		await chmod(target, 0o600);
		const [sha256] = await Promise.all([sha256File(target, signal), fsyncFile(target)]);
		const same = previous?.bootFiles.find(other => other.role === source.role && other.sha256 === sha256);
		if (same) {
			// The same bytes as the previous point's: one copy on disk, two names.
			const linked = `${target}.link`;
			if (
				await link(repo.resolve(vm, same.file), linked).then(
					() => true,
					() => false,
				)
			)
				await rename(linked, target);
		}
		copied.push({role: source.role, name: source.name, file, size: (await stat(target)).size, sha256});
	}
	return copied;
}
