import {rm, writeFile} from 'node:fs/promises';
import path from 'node:path';
import {SnapdeckError} from '../core/errors.js';
import {chooseSnapshot, describeClaim} from '../core/offsite-claims.js';
import {stagedManifest} from '../core/offsite-contents.js';
import type {RemotePoint} from '../core/offsite-model.js';
import type {JobContext} from '../core/progress.js';
import {formatBytes} from '../core/units.js';
import type {Hypervisor} from '../adapters/hypervisor.js';
import {freeBytesNear} from '../adapters/file-checks.js';
import {targetLabel, type ResticTarget} from '../adapters/restic.js';
import {makeDirs} from '../adapters/safe-fs.js';
import {dumpFile, inspectOrRefuse} from './offsite-fetch.js';
import {remoteClaims} from './offsite-copy.js';
import {Repository} from './repository.js';
import {restoreBackup, type Restored, type RestoreOptions} from './restore.js';

export interface RemoteRestoreOptions extends RestoreOptions {
	/** The snapshot to restore the point from (its id, or 8 or more of its first digits): where two claim the point. */
	readonly snapshot?: string;
	/** Said to the operator: another snapshot that claims the point, and why it was not taken. */
	readonly onWarning?: (text: string) => void;
}

export interface RemoteRestored {
	readonly restored: Restored;
	/** The restic snapshot (whole id) the point was restored from. */
	readonly snapshot: string;
}

/** Which snapshot of the point to restore: this host's copy, the one asked for, or the only claim (see chooseSnapshot). */
async function snapshotToRestore(
	repo: Repository | null,
	target: ResticTarget,
	vm: string,
	options: RemoteRestoreOptions,
): Promise<RemotePoint> {
	const {points, recorded} = await remoteClaims(repo, target, vm, options.signal);
	const claims = points.filter(point => point.id === options.point);
	if (claims.length === 0) {
		throw new SnapdeckError(
			'not-found',
			`${targetLabel(target)} holds no point ${options.point} of ${vm}`,
			points.length > 0
				? `it holds: ${[...new Set(points.map(point => point.id))].join(', ')}`
				: `copy one there with 'snapdeck copy ${vm} --target ${target.name ?? target.repository}'`,
			'no-such-point',
		);
	}
	const {chosen, ignored} = chooseSnapshot(
		claims,
		{vm, label: targetLabel(target), target: target.name ?? target.repository},
		recorded,
		options.snapshot,
	);
	for (const {point, why} of ignored)
		options.onWarning?.(`snapshot ${describeClaim(point, null)} claims point ${point.id} too: ${why}`);
	return chosen;
}

/**
 * Restores a point from an off-site target, with nothing of the local repository needed (where
 * there is one, its record says which snapshot is this host's copy). The snapshot is read as
 * hostile: its listing and manifest are checked first, then only the files its manifest names are
 * fetched (restic dump, one by one) into a private staging folder under `stagingDir`, each
 * checked against its checksum, and restored from there exactly as a local point is. The staging
 * folder goes afterwards.
 */
export async function restoreFromTarget(
	repo: Repository | null,
	target: ResticTarget,
	hypervisor: Hypervisor,
	vm: string,
	stagingDir: string,
	options: RemoteRestoreOptions,
	job: JobContext,
): Promise<RemoteRestored> {
	if ((options.to === undefined) === (options.as === undefined))
		throw new SnapdeckError('usage', 'restore needs exactly one of --to PATH and --as NAME');
	const remote = await snapshotToRestore(repo, target, vm, options);
	const {manifest, files} = await inspectOrRefuse(target, vm, remote, options.signal);
	const bytes = files.reduce((sum, file) => sum + file.size, 0);
	const free = await freeBytesNear(stagingDir);
	if (bytes > free) {
		throw new SnapdeckError(
			'refused',
			`point ${remote.id} of ${vm} is ${formatBytes(bytes)} in ${files.length} files, and ${stagingDir} has ${formatBytes(free)} free: nothing was fetched`,
			'restore to a folder on a filesystem with more room (--to PATH)',
			'no-space',
		);
	}
	options.onEvent?.({
		type: 'step',
		index: 0,
		total: 1,
		summary: `fetch point ${remote.id} of ${vm} (${formatBytes(bytes)} in ${files.length} file${files.length === 1 ? '' : 's'}) from ${targetLabel(target)}, snapshot ${remote.snapshot.slice(0, 8)}`,
		resumed: false,
	});
	const root = await job.workFolder(stagingDir, 'offsite-restore');
	try {
		const staged = new Repository(root);
		await makeDirs(staged.vmDir(vm), 'the staging folder of a restore');
		await writeFile(
			path.join(staged.vmDir(vm), 'manifest.json'),
			`${JSON.stringify(stagedManifest(manifest, remote.id), null, 2)}\n`,
			{mode: 0o600, flag: 'wx'},
		);
		let done = 0;
		for (const file of files) {
			const to = staged.resolve(vm, file.file);
			await makeDirs(path.dirname(to), 'the staging folder of a restore');
			const sum = await dumpFile(target, remote.snapshot, file, to, options.signal);
			if (sum !== file.sha256) {
				throw new SnapdeckError(
					'failed',
					`point ${remote.id} on ${targetLabel(target)} is damaged: ${file.file} in snapshot ${remote.snapshot.slice(0, 8)} does not match its checksum; nothing was restored`,
					`run 'snapdeck verify ${vm} --from ${target.name ?? target.repository} --read-data', and restore another point`,
					'damaged',
				);
			}
			done += file.size;
			options.onEvent?.({
				type: 'progress',
				index: 0,
				fraction: bytes > 0 ? done / bytes : 1,
				bytesDone: done,
				bytesTotal: bytes,
				rate: 0,
				eta: null,
			});
		}
		job.step('fetched');
		job.step('checked');
		return {restored: await restoreBackup(staged, hypervisor, vm, options, job), snapshot: remote.snapshot};
	} finally {
		await rm(root, {recursive: true, force: true});
	}
}
