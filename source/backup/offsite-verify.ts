import {createHash} from 'node:crypto';
import {mkdtemp, rm, writeFile} from 'node:fs/promises';
import {tmpdir} from 'node:os';
import path from 'node:path';
import {SnapdeckError} from '../core/errors.js';
import {
	duplicateClaims,
	duplicateProblem,
	withRecord,
	type ListedPoint,
	type RecordedCopies,
} from '../core/offsite-claims.js';
import type {NamedFile} from '../core/offsite-contents.js';
import type {RemotePoint} from '../core/offsite-model.js';
import {readQcow2Header} from '../adapters/qemu/qcow2-header.js';
import {restic, ResticError, targetLabel, type ResticTarget} from '../adapters/restic.js';
import {inspectSnapshot, type InspectedSnapshot} from './offsite-fetch.js';
import {updateOffsiteState} from './offsite-record.js';
import {remoteClaims} from './offsite-copy.js';
import type {Repository} from './repository.js';

export interface RemoteVerdict {
	readonly ok: boolean;
	/** What restic read: "all" data, a subset ("10%"), or none (structure only). */
	readonly readData: string;
	readonly problems: readonly string[];
	/** The VM's points on the target, each with whether this host recorded it as its copy. */
	readonly points: readonly ListedPoint[];
}

/**
 * Checks a target with restic's `check` (its structure always, and the data of a subset of its
 * packs, "10%" by default, or all of it), then each of the VM's snapshots as a copy of its point:
 * one claim per point, a manifest of that point, the files it names and nothing else (with
 * `readData` "all" or a failed check: each file read back against its checksum and its qcow2
 * header's backing name). The verdict is kept for health.
 */
export async function verifyTarget(
	repo: Repository | null,
	target: ResticTarget,
	vm: string,
	options: {readData?: string; signal?: AbortSignal; now?: Date; command: string},
): Promise<RemoteVerdict> {
	const readData = options.readData ?? '10%';
	const {points, recorded} = await remoteClaims(repo, target, vm, options.signal);
	if (points.length === 0)
		throw new SnapdeckError(
			'not-found',
			`${targetLabel(target)} holds no point of ${vm}`,
			`copy one there with 'snapdeck copy ${vm} --target ${target.name ?? target.repository}'`,
			'no-backups',
		);
	const args = [
		'check',
		...(readData === 'all' ? ['--read-data'] : readData === 'none' ? [] : [`--read-data-subset=${readData}`]),
	];
	const listed = withRecord(points, recorded);
	const problems: string[] = [...duplicateClaims(listed)].map(([id, claims]) => duplicateProblem(id, claims));
	let checked = true;
	try {
		// The structure alone: bounded in time, generously (it reads every index and tree of the target).
		await restic(target, args, {signal: options.signal, bound: readData === 'none' ? 'metadata' : 'data', slow: 6});
	} catch (error) {
		if (!(error instanceof ResticError) || error.failure !== 'other') throw error;
		checked = false;
		// restic names packs; the operator needs to know which points: each one's files are read back.
		const found = error.details.filter(
			line =>
				/pack|blob|error|damaged|mismatch|does not match|unexpected|missing/i.test(line) &&
				!/^(Fatal: repository contains errors$|check |read |load |using temporary|create exclusive lock)/.test(line),
		);
		problems.push(`restic check: ${found.join('; ') || error.message}`);
	}
	problems.push(...(await pointProblems(target, vm, points, recorded, readData === 'all' || !checked, options.signal)));
	const verdict = {ok: problems.length === 0, readData, problems, points: listed};
	if (repo) {
		await updateOffsiteState(repo, vm, target, {
			lastCheck: {
				at: (options.now ?? new Date()).toISOString(),
				ok: verdict.ok,
				readData,
				message: problems.join('; ') || 'ok',
			},
		}).catch(() => undefined);
		await repo
			.journal(vm, {
				action: 'verify',
				snapshot: [...new Set(points.map(point => point.id))].join(', '),
				outcome: verdict.ok ? 'done' : 'failed',
				message: `${targetLabel(target)}: ${problems.join('; ') || `ok (read ${readData} of the data)`}`,
			})
			.catch(() => undefined);
	}
	return verdict;
}

/**
 * Which snapshots are not what a copy of their point is: their listing and manifest always; with
 * `read`, each file they name read back. A file this host's copies share is read once; one in a
 * snapshot this host did not record is read in that snapshot (its name and checksum prove nothing).
 */
async function pointProblems(
	target: ResticTarget,
	vm: string,
	points: readonly RemotePoint[],
	recorded: RecordedCopies | null,
	read: boolean,
	signal?: AbortSignal,
): Promise<string[]> {
	const problems: string[] = [];
	const files = new Map<string, string | null>();
	for (const point of points) {
		const where = `point ${point.id} (snapshot ${point.snapshot.slice(0, 8)})`;
		const inspected = await inspectSnapshot(target, vm, point, signal).catch((error: unknown) => {
			if (signal?.aborted || !(error instanceof SnapdeckError)) throw error;
			return {problems: [error.message]};
		});
		if ('problems' in inspected) {
			problems.push(`${where} is not a copy snapdeck made: ${inspected.problems.join('; ')}`);
			continue;
		}
		if (!read) continue;
		const bad: string[] = [];
		for (const file of inspected.files) {
			const key = `${recorded?.snapshots.has(point.snapshot) ? '' : point.snapshot}:${file.file}:${file.sha256}`;
			if (!files.has(key))
				files.set(key, await fileProblem(target, point.snapshot, file, backingOf(inspected, file), signal));
			const wrong = files.get(key);
			if (wrong) bad.push(`${file.file} ${wrong}`);
		}
		if (bad.length > 0)
			problems.push(`point ${point.id} is damaged there: ${bad.join('; ')} (snapshot ${point.snapshot.slice(0, 8)})`);
	}
	return problems;
}

/** The backing a disk file's qcow2 header must name (relative to the VM's folder), null for none; undefined for a file that is no disk image. */
function backingOf({manifest}: InspectedSnapshot, named: NamedFile): string | null | undefined {
	const file = manifest.points.flatMap(point => point.files).find(candidate => candidate.file === named.file);
	return file === undefined ? undefined : file.backing;
}

/** How a file of a snapshot reads back wrong (its checksum, its qcow2 header's backing name), or null. */
async function fileProblem(
	target: ResticTarget,
	snapshot: string,
	file: NamedFile,
	backing: string | null | undefined,
	signal?: AbortSignal,
): Promise<string | null> {
	const hash = createHash('sha256');
	const head: Buffer[] = [];
	let headBytes = 0;
	try {
		await restic(target, ['dump', snapshot, `/${file.file}`], {
			signal,
			bound: 'data',
			onData: chunk => {
				hash.update(chunk);
				if (headBytes >= 65_536) return;
				head.push(chunk);
				headBytes += chunk.length;
			},
		});
	} catch (error) {
		if (signal?.aborted) throw error;
		return `cannot be read back (${(error as Error).message})`;
	}
	if (hash.digest('hex') !== file.sha256) return 'does not match its checksum';
	return backing === undefined ? null : headerProblem(Buffer.concat(head).subarray(0, 65_536), file.file, backing);
}

/** Why a disk file's first bytes do not name the backing its manifest says (read as QEMU would), or null. */
async function headerProblem(head: Buffer, file: string, backing: string | null): Promise<string | null> {
	const dir = await mkdtemp(path.join(tmpdir(), 'snapdeck-header-'));
	try {
		const copy = path.join(dir, 'vm', file);
		await writeFile(path.join(dir, 'head'), head, {mode: 0o600});
		const header = await readQcow2Header(path.join(dir, 'head'), {excerpt: true}).catch((error: Error) => error);
		if (header instanceof Error)
			return `is not a qcow2 image snapdeck wrote (${header.message.replace(path.join(dir, 'head'), file)})`;
		const named = header.backingName === null ? null : path.resolve(path.dirname(copy), header.backingName);
		const expected = backing === null ? null : path.join(dir, 'vm', backing);
		return named === expected
			? null
			: `is backed by ${header.backingName ?? 'nothing'} in its header, but the manifest says ${backing ?? 'nothing'}`;
	} finally {
		await rm(dir, {recursive: true, force: true});
	}
}
