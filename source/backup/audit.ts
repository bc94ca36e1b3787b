import {rm} from 'node:fs/promises';
import path from 'node:path';
import {CommandFailed, localRunner} from '../adapters/exec.js';
import {sha256File} from './hashing.js';
import type {Repository} from './repository.js';
import {writeReceipt} from './receipts.js';
import type {AuditSource, AuditView} from '../adapters/hypervisor.js';
import type {BackupPoint, PointAudit} from '../core/backup-manifest.js';
import {SnapdeckError} from '../core/errors.js';
import type {PlanEvent} from '../core/plan.js';
import type {JobContext} from '../core/progress.js';
import {formatBytes} from '../core/units.js';

/** How much of a disk one compared range covers: a mismatch is named to this precision. */
export const AUDIT_RANGE = 64 * 1024 * 1024;

/** A byte range of a disk that does not read the same in the disk and in its backup chain. */
export interface AuditRange {
	readonly start: number;
	readonly length: number;
}

/** What an audit found on one disk. */
export interface DiskAudit {
	readonly disk: string;
	readonly ok: boolean;
	readonly ranges: readonly AuditRange[];
}

/** qemu-img's --image-opts for a whole view of `source`: a qcow2 chain by its top file (its backing files followed), or an NBD export. */
function imageOpts(source: AuditSource): string {
	const value = (text: string) => text.replaceAll(',', ',,');
	return (
		source.kind === 'file'
			? ['driver=qcow2', 'file.driver=file', `file.filename=${value(source.path)}`]
			: [
					'driver=raw',
					'file.driver=nbd',
					'file.server.type=unix',
					`file.server.path=${value(source.socket)}`,
					`file.export=${value(source.export)}`,
				]
	).join(',');
}

/** Whether two whole views read the same (qemu-img compare: streamed, nothing the size of the disk in memory). */
async function same(a: AuditSource, b: AuditSource, signal?: AbortSignal): Promise<boolean> {
	try {
		await localRunner.run('qemu-img', ['compare', '-U', '--image-opts', imageOpts(a), imageOpts(b)], {signal});
		return true;
	} catch (error) {
		if (error instanceof CommandFailed && error.exitCode === 1) return false;
		throw new SnapdeckError(
			'failed',
			`the audit could not compare the disk with its backup: ${(error as Error).message}`,
		);
	}
}

const MiB = 1024 * 1024;

/**
 * The sha256 of a byte range of a view, read by qemu-img dd (its backing files followed) into a
 * scratch file of the range's size. qemu-img dd counts `count` from the start of the input, skipped
 * blocks included (measured: skip=64 count=64 wrote nothing).
 */
async function rangeHash(
	source: AuditSource,
	range: AuditRange,
	scratch: string,
	signal?: AbortSignal,
): Promise<string> {
	const input =
		source.kind === 'file'
			? ['-f', 'qcow2', `if=${source.path}`]
			: ['-f', 'raw', `if=nbd+unix:///${encodeURIComponent(source.export)}?socket=${source.socket}`];
	await rm(scratch, {force: true});
	try {
		await localRunner.run(
			'qemu-img',
			[
				'dd',
				'-U',
				...input,
				'-O',
				'raw',
				`bs=${MiB}`,
				`skip=${range.start / MiB}`,
				`count=${Math.ceil((range.start + range.length) / MiB)}`,
				`of=${scratch}`,
			],
			{signal},
		);
		return await sha256File(scratch, signal);
	} finally {
		await rm(scratch, {force: true});
	}
}

/**
 * Compares a disk, as it was at the instant of the backup (`source`), with what the backup's chain
 * restores (`chain`, the point's top file): the whole first; where it differs, range by range
 * (AUDIT_RANGE: each read into a scratch file in `scratch` and hashed, then removed), so the
 * operator learns which parts the dirty bitmap missed.
 */
export async function auditDisk(
	disk: string,
	source: AuditSource,
	chain: string,
	virtualSize: number,
	scratch: string,
	options: {signal?: AbortSignal; onRange?: (done: number, total: number) => void} = {},
): Promise<DiskAudit> {
	const point: AuditSource = {kind: 'file', path: chain};
	if (await same(source, point, options.signal)) return {disk, ok: true, ranges: []};
	const ranges: AuditRange[] = [];
	const count = Math.ceil(virtualSize / AUDIT_RANGE);
	for (let index = 0; index < count; index++) {
		options.signal?.throwIfAborted();
		const range = {start: index * AUDIT_RANGE, length: Math.min(AUDIT_RANGE, virtualSize - index * AUDIT_RANGE)};
		const [there, here] = [
			await rangeHash(source, range, path.join(scratch, `${disk}.disk.raw`), options.signal),
			await rangeHash(point, range, path.join(scratch, `${disk}.point.raw`), options.signal),
		];
		if (there !== here) {
			const last = ranges.at(-1);
			// Ranges that touch are one.
			if (last && last.start + last.length === range.start)
				ranges[ranges.length - 1] = {start: last.start, length: last.length + range.length};
			else ranges.push(range);
		}
		options.onRange?.(index + 1, count);
	}
	return {disk, ok: false, ranges};
}

/** "vda: 64 MiB at 128 MiB, 128 MiB at 1 GiB". */
export const describeAudit = (audits: readonly DiskAudit[]) =>
	audits
		.filter(audit => !audit.ok)
		.map(
			audit =>
				`${audit.disk}: ${audit.ranges.map(range => `${formatBytes(range.length)} at ${formatBytes(range.start)}`).join(', ') || 'differs'}`,
		)
		.join('; ');

/**
 * Compares each disk, as it was at the instant of the backup, with what the new point's chain
 * restores; records the verdict with the point. A difference is a write the dirty bitmap never
 * saw: the backup fails, naming the disks and ranges, and the next backup is a full.
 */
export async function auditBackup(
	repo: Repository,
	vm: string,
	point: BackupPoint,
	view: AuditView,
	options: {
		readonly signal?: AbortSignal;
		readonly now?: Date;
		readonly onEvent?: (event: PlanEvent) => void;
		readonly onWarning?: (text: string) => void;
	},
	job: JobContext,
): Promise<BackupPoint> {
	job.step('auditing');
	const began = Date.now();
	options.onEvent?.({
		type: 'step',
		index: 0,
		total: 1,
		summary: `audit ${point.files.map(file => file.disk).join(', ')} of ${vm}: each disk as it was at the backup, against what point ${point.id} restores`,
		resumed: false,
	});
	const disks: DiskAudit[] = [];
	for (const file of point.files) {
		const source = view.sources[file.disk];
		if (!source) throw new SnapdeckError('failed', `the audit has no view of ${file.disk}`);
		disks.push(
			await auditDisk(file.disk, source, repo.resolve(vm, file.file), file.virtualSize, view.dir, {
				signal: options.signal,
			}),
		);
	}
	const record: PointAudit = {
		at: (options.now ?? new Date()).toISOString(),
		ok: disks.every(disk => disk.ok),
		seconds: Math.round((Date.now() - began) / 100) / 10,
		disks: disks.map(disk => ({...disk, ranges: [...disk.ranges]})),
	};
	const fresh = await repo.read(vm);
	await repo.write({
		...fresh,
		points: fresh.points.map(candidate => (candidate.id === point.id ? {...candidate, audit: record} : candidate)),
	});
	options.onEvent?.({type: 'done', index: 0});
	if (!record.ok) {
		throw new SnapdeckError(
			'failed',
			`the audit of backup ${point.id} of ${vm} failed: the disk does not read as the backup in ${describeAudit(disks)}: writes its dirty bitmap never recorded`,
			`the point is kept, marked audit: failed; the next backup of ${vm} is a full, which starts a new chain`,
			'damaged',
		);
	}
	await writeReceipt(
		repo,
		vm,
		point,
		'audit',
		`each disk, as it was at the instant of the backup (image fleecing), read whole and compared with what the point's chain restores: identical`,
		new Date(began),
		options.now,
	).catch((error: Error) => options.onWarning?.(`the audit passed, and no receipt was written: ${error.message}`));
	return {...point, audit: record};
}
