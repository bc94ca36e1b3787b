import {copyFile, link, readdir, rm, writeFile} from 'node:fs/promises';
import {chainHeaderProblems} from './point-headers.js';
import path from 'node:path';
import {archiveFile, findPoint, pointChain, type Manifest} from '../core/backup-manifest.js';
import {SnapdeckError} from '../core/errors.js';
import {resolveRecorded, type RecordedCopies} from '../core/offsite-claims.js';
import {offsiteTags, remotePoints, ResticSnapshot, vmTagFilter, type RemotePoint} from '../core/offsite-model.js';
import type {PlanEvent} from '../core/plan.js';
import type {JobContext} from '../core/progress.js';
import {latestPoint} from '../core/points.js';
import {selectRetention, type Retention} from '../core/retention.js';
import {formatBytes} from '../core/units.js';
import {stateDir} from '../adapters/state/operation-store.js';
import {restic, ResticError, targetLabel, type ResticTarget} from '../adapters/restic.js';
import {makeDirs, stateFolder} from '../adapters/safe-fs.js';
import {keepKit, syncKit} from './write-kit.js';
import {pendingCopies, recordCopy, recordOf, recordPendingCopy} from './offsite-record.js';
import {RECEIPTS} from './receipts.js';
import {Repository} from './repository.js';
import {assertRestorable} from './restore.js';

/** The most `restic snapshots --json` may print (a snapshot is a few hundred bytes: some 100,000 of them). */
const LISTING_LIMIT = 64 * 1024 * 1024;

export interface CopyOptions {
	/** The point to copy; the newest complete one when absent. */
	readonly point?: string;
	readonly command: string;
	readonly signal?: AbortSignal;
	readonly onEvent?: (event: PlanEvent) => void;
	/** Copy even a point whose last verification failed. */
	readonly force?: boolean;
	readonly now?: Date;
}

export interface CopyResult {
	readonly point: string;
	readonly snapshot: string;
	/** Bytes restic added to the target (after deduplication and compression). */
	readonly uploaded: number;
	/** Bytes of the point's chain that the snapshot holds. */
	readonly bytes: number;
	/** The point was on the target already: nothing was copied. */
	readonly already: boolean;
	/** A new restic repository was made at the target for this copy. */
	readonly created: boolean;
}

/** The snapshots on a target tagged as `vm`'s points, as restic lists them (checked: a target is not ours alone). */
async function listSnapshots(target: ResticTarget, vm: string, signal?: AbortSignal): Promise<ResticSnapshot[]> {
	const text = await restic(target, ['snapshots', '--json', '--tag', vmTagFilter(vm)], {
		signal,
		bound: 'metadata',
		maxOutput: LISTING_LIMIT,
	});
	let json: unknown;
	try {
		json = JSON.parse(text || '[]');
	} catch {
		throw new SnapdeckError('failed', `restic snapshots on ${targetLabel(target)} did not answer in JSON`);
	}
	const parsed = ResticSnapshot.array().safeParse(json ?? []);
	if (!parsed.success)
		throw new SnapdeckError(
			'failed',
			`restic snapshots on ${targetLabel(target)} answered with something that is not a snapshot list`,
		);
	return parsed.data;
}

/** The snapshots of `vm`'s points on a target, oldest first (two that claim one point both listed, marked `duplicate`). */
export async function listRemote(target: ResticTarget, vm: string, signal?: AbortSignal): Promise<RemotePoint[]> {
	return remotePoints(await listSnapshots(target, vm, signal), vm).points;
}

/** The VM's points on a target, and what this host recorded of its copies there (null: no record of that target here). */
export async function remoteClaims(
	repo: Repository | null,
	target: ResticTarget,
	vm: string,
	signal?: AbortSignal,
): Promise<{points: RemotePoint[]; recorded: RecordedCopies | null}> {
	const points = await listRemote(target, vm, signal);
	return {points, recorded: resolveRecorded(await recordOf(repo, vm, target), points)};
}

/** The VM's points on the target, after making a restic repository there if there is none (`created`). */
async function listOrCreate(
	target: ResticTarget,
	vm: string,
	signal?: AbortSignal,
): Promise<{points: RemotePoint[]; created: boolean}> {
	try {
		return {points: await listRemote(target, vm, signal), created: false};
	} catch (error) {
		if (!(error instanceof ResticError) || error.failure !== 'no-repository') throw error;
	}
	await restic(target, ['init'], {signal, bound: 'metadata'});
	return {points: [], created: true};
}

/** Progress events from restic's --json status lines. */
function resticProgress(onEvent: CopyOptions['onEvent']) {
	return (line: Record<string, unknown>) => {
		if (line['message_type'] !== 'status') return;
		const done = Number(line['bytes_done'] ?? 0);
		const total = Number(line['total_bytes'] ?? 0);
		const seconds = Number(line['seconds_elapsed'] ?? 0);
		const remaining = line['seconds_remaining'];
		onEvent?.({
			type: 'progress',
			index: 0,
			fraction: Number(line['percent_done'] ?? 0),
			bytesDone: done,
			bytesTotal: total,
			rate: seconds > 0 ? done / seconds : 0,
			eta: typeof remaining === 'number' ? remaining : null,
		});
	};
}

/**
 * Copies one point to an off-site target as one restic snapshot holding the point whole (its
 * chain's files and a manifest of that chain). Its caller holds the VM's repository lock; the files are
 * hard-linked into a staging folder so the snapshot's paths are the same for every copy (restic
 * then reads only files it has not seen). A copy that is killed leaves no snapshot (restic writes
 * it last); what it uploaded is reused by the next one. A point is on the target already only
 * when this host's record names a snapshot of it there: one that someone else added is no copy.
 */
export async function copyToTarget(
	repo: Repository,
	vm: string,
	target: ResticTarget,
	options: CopyOptions,
	job: JobContext,
): Promise<CopyResult> {
	const {manifest, point, chain} = await pointToCopy(repo, vm, options);
	const bytes = chain.reduce((sum, member) => sum + member.files.reduce((inner, file) => inner + file.size, 0), 0);
	options.onEvent?.({
		type: 'step',
		index: 0,
		total: 1,
		summary: `copy point ${point.id} of ${vm} (${formatBytes(bytes)} in ${chain.length} point${chain.length === 1 ? '' : 's'}) to ${targetLabel(target)}`,
		resumed: false,
	});
	const {points: there, created} = await listOrCreate(target, vm, options.signal);
	const recorded = resolveRecorded(await recordOf(repo, vm, target), there);
	const mine = there.filter(remote => recorded?.snapshots.has(remote.snapshot));
	const existing = mine.filter(remote => remote.id === point.id).at(-1);
	// A copy from here that a kill stopped after restic made its snapshot and before it was recorded:
	// the one snapshot of the point whose path is the staging folder (its random token) recorded before restic ran.
	const staged = await pendingCopies(repo, vm, target, point.id);
	const adopted = there.filter(
		remote => remote.id === point.id && remote.paths?.length === 1 && staged.includes(remote.paths[0]!),
	);
	const found = existing ?? (adopted.length === 1 ? adopted[0] : undefined);
	if (found) {
		// Recorded again: a copy an older snapdeck recorded by its short id is now recorded whole.
		await recordCopy(repo, vm, target, {
			at: found.copiedAt.replace(/(\.\d{3})\d*Z$/, '$1Z'),
			point: point.id,
			snapshot: found.snapshot,
			uploaded: 0,
		});
		return {point: point.id, snapshot: found.snapshot, uploaded: 0, bytes, already: true, created};
	}
	// Earlier points' archives are theirs: the snapshot holds this point's only.
	const stagedManifest: Manifest = {
		version: 1,
		vm,
		identity: manifest.identity,
		points: chain.map(member => (member === point ? member : {...member, archive: null, bootFiles: []})),
	};
	// restic reads again only the files its parent's tree does not list the same: the parent must be this host's own copy.
	const {snapshot, uploaded} = await upload(
		repo,
		vm,
		target,
		stagedManifest,
		point.id,
		mine.at(-1) ?? null,
		options,
		job,
	);
	await recordCopy(repo, vm, target, {
		at: (options.now ?? new Date()).toISOString(),
		point: point.id,
		snapshot,
		uploaded,
	});
	options.onEvent?.({type: 'done', index: 0});
	return {point: point.id, snapshot, uploaded, bytes, already: false, created};
}

/** The point to copy (the newest unless named) and the chain it builds on: restorable, and every header as the manifest says. */
async function pointToCopy(repo: Repository, vm: string, options: CopyOptions) {
	const manifest = await repo.read(vm);
	const point = options.point === undefined ? latestPoint(manifest.points) : findPoint(manifest, options.point);
	if (!point)
		throw new SnapdeckError(
			'not-found',
			`there are no backups of ${vm} in ${repo.root} to copy`,
			`take one with 'snapdeck backup ${vm}'`,
			'no-backups',
		);
	assertRestorable(manifest, point, options.force);
	const chain = pointChain(manifest, point.id).reverse();
	const problems = await chainHeaderProblems(repo, manifest, point.id);
	if (problems.length > 0)
		throw new SnapdeckError(
			'failed',
			`cannot copy point ${point.id}: ${problems.join('; ')}`,
			`run 'snapdeck verify ${vm}' to see which points are intact, and copy another`,
		);
	return {manifest, point, chain};
}

/** Stages the chain and runs restic backup on it: the new snapshot's whole id, and the bytes restic added. */
async function upload(
	repo: Repository,
	vm: string,
	target: ResticTarget,
	manifest: Manifest,
	id: string,
	parent: RemotePoint | null,
	options: CopyOptions,
	job: JobContext,
): Promise<{snapshot: string; uploaded: number}> {
	const point = manifest.points.find(member => member.id === id)!;
	const staging = await job.workFolder(
		await stateFolder(stateDir(repo.vmDir(vm)), `the state folder of ${vm}'s backups`),
		'offsite-copy',
	);
	try {
		await stage(repo, vm, staging, manifest);
		await job.begin(id, `to ${targetLabel(target)}`);
		await recordPendingCopy(repo, vm, target, {at: (options.now ?? new Date()).toISOString(), point: id, staging});
		let summary: Record<string, unknown> | null = null;
		const progress = resticProgress(options.onEvent);
		try {
			job.step('staged');
			await restic(
				target,
				[
					'backup',
					'--json',
					'--ignore-ctime',
					'--tag',
					offsiteTags(vm, point).join(','),
					...(parent ? ['--parent', parent.snapshot] : []),
					'.',
				],
				{
					// A full target: restic would retry each refused write for minutes.
					cwd: staging,
					signal: options.signal,
					stopOn: 'full',
					bound: 'data',
					onJson: line => (line['message_type'] === 'summary' ? (summary = line) : progress(line)),
				},
			);
		} catch (error) {
			if (options.signal?.aborted)
				throw new SnapdeckError(
					'failed',
					`the copy of point ${id} to ${targetLabel(target)} was cancelled; no snapshot was made there, and the next copy reuses what was uploaded`,
				);
			throw error;
		}
		const done = summary as Record<string, unknown> | null;
		const snapshot = await wholeId(target, vm, String(done?.['snapshot_id'] ?? ''), staging, options.signal);
		job.step('uploaded');
		return {snapshot, uploaded: Number(done?.['data_added'] ?? 0)};
	} finally {
		await rm(staging, {recursive: true, force: true}).catch(() => undefined);
	}
}

/**
 * The whole id of the snapshot restic just made: its summary gives 8 digits only (restic 0.14).
 * It is the one snapshot whose id begins with them and whose path is this copy's staging folder
 * (a name with the job's random token): another that claims both is refused, not guessed at.
 */
async function wholeId(
	target: ResticTarget,
	vm: string,
	short: string,
	staging: string,
	signal?: AbortSignal,
): Promise<string> {
	const made = (await listSnapshots(target, vm, signal)).filter(
		snapshot =>
			short.length >= 8 &&
			snapshot.id.startsWith(short) &&
			(snapshot.paths ?? []).length === 1 &&
			snapshot.paths![0] === staging,
	);
	if (made.length !== 1) {
		throw new SnapdeckError(
			'failed',
			`restic made snapshot ${short || '(no id given)'} on ${targetLabel(target)}, and ${made.length === 0 ? 'no snapshot there is it' : `${made.length} snapshots there claim to be it`}: it is not recorded as this host's copy`,
			"someone who holds the target's password may be adding snapshots: check who can write to it, then copy again",
		);
	}
	return made[0]!.id;
}

/** The staging folder of a copy: the chain's manifest, and its files linked (copied where links are not allowed). */
async function stage(repo: Repository, vm: string, staging: string, manifest: Manifest): Promise<void> {
	// The restore kit travels with the copy: restic restore, then sh restore.sh, with nothing of snapdeck's.
	await keepKit(staging);
	await syncKit(staging, manifest);
	// The point's receipts travel with it: what was proved of it, signed.
	const point = manifest.points.at(-1);
	const receipts = point
		? (await readdir(path.join(repo.vmDir(vm), RECEIPTS)).catch(() => [] as string[])).filter(
				name => name.includes(`-${point.id}-`) && name.endsWith('.json'),
			)
		: [];
	if (receipts.length > 0) await makeDirs(path.join(staging, RECEIPTS), 'the staging folder of an off-site copy');
	for (const name of receipts)
		await copyFile(path.join(repo.vmDir(vm), RECEIPTS, name), path.join(staging, RECEIPTS, name));
	await writeFile(path.join(staging, 'manifest.json'), `${JSON.stringify(manifest, null, 2)}\n`, {
		mode: 0o600,
		flag: 'wx',
	});
	for (const member of manifest.points) {
		for (const file of [
			...member.files.map(own => own.file),
			...(member.archive ?? []).map(image => archiveFile(member.id, image.name)),
			...member.bootFiles.map(boot => boot.file),
		]) {
			const to = path.join(staging, file);
			await makeDirs(path.dirname(to), 'the staging folder of an off-site copy');
			await link(repo.resolve(vm, file), to).catch(async (error: NodeJS.ErrnoException) => {
				if (!['EPERM', 'ENOTSUP', 'EXDEV', 'EMLINK'].includes(error.code ?? '')) throw error;
				await copyFile(repo.resolve(vm, file), to);
			});
		}
	}
}

export interface RemotePrunePlan {
	readonly target: string;
	readonly keep: readonly RemotePoint[];
	readonly remove: readonly RemotePoint[];
	/** Snapshots of a VM of this name that this host did not copy (another host's, or added by someone else): left alone. */
	readonly others: readonly RemotePoint[];
}

/**
 * Which of a VM's copies on a target its retention keeps: each snapshot holds its point whole, so
 * any may go. Where this host has a record of the target, only the copies it made are weighed: a
 * VM of the same name on another host copies there too, and its copies are not this VM's to forget.
 * Without a record (a new host after a disaster), every snapshot of the name is.
 */
export async function planTargetPrune(
	repo: Repository | null,
	target: ResticTarget,
	vm: string,
	retention: Retention,
	signal?: AbortSignal,
): Promise<RemotePrunePlan> {
	const {points, recorded} = await remoteClaims(repo, target, vm, signal);
	const mine = recorded === null ? points : points.filter(point => recorded.snapshots.has(point.snapshot));
	const others = points.filter(point => !mine.includes(point));
	const {remove} = selectRetention(
		mine.map(point => ({id: point.snapshot, createdAt: point.createdAt})),
		retention,
	);
	const removed = new Set(remove);
	return {
		target: targetLabel(target),
		keep: mine.filter(point => !removed.has(point.snapshot)),
		remove: mine.filter(point => removed.has(point.snapshot)),
		others,
	};
}

/** Forgets the planned snapshots and prunes the data no snapshot uses any more (restic forget, then prune). */
export async function pruneTarget(
	target: ResticTarget,
	plan: RemotePrunePlan,
	options: {signal?: AbortSignal; onForgotten?: (snapshots: string[]) => Promise<void>},
	job: JobContext,
): Promise<void> {
	if (plan.remove.length === 0) return;
	await job.begin(plan.remove.map(point => point.id).join(', '), `on ${targetLabel(target)}`);
	// An append-only target refuses the first delete; restic would retry it for minutes.
	job.step('forgetting');
	await restic(target, ['forget', ...plan.remove.map(point => point.snapshot)], {
		signal: options.signal,
		stopOn: 'append-only',
		bound: 'metadata',
	});
	// Killed here, the points are forgotten and their data waits for the next prune (restic's own, or this one run again).
	job.step('forgotten');
	await options.onForgotten?.(plan.remove.map(point => point.snapshot));
	await restic(target, ['prune'], {signal: options.signal, stopOn: 'append-only', bound: 'data'});
}
