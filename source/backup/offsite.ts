import {createHash} from 'node:crypto';
import {copyFile, link, lstat, readdir, rm, writeFile} from 'node:fs/promises';
import path from 'node:path';
import {archiveFile, findPoint, Manifest, pointChain} from '../core/backup.js';
import {errorMessage, SnapdeckError} from '../core/errors.js';
import {claimedTwice, describeClaims, OffsiteState, offsiteTags, remotePoints, ResticSnapshot, vmTagFilter, type OffsiteRecord, type RemotePoint} from '../core/offsite.js';
import type {PlanEvent} from '../core/plan.js';
import type {JobContext} from '../core/progress.js';
import {latestPoint} from '../core/points.js';
import {selectRetention, type Retention} from '../core/retention.js';
import {formatBytes} from '../core/units.js';
import {writeJsonAtomic} from '../adapters/state/atomic-file.js';
import type {Hypervisor} from '../adapters/hypervisor.js';
import {stateDir} from '../adapters/state/operation-store.js';
import {restic, ResticError, targetLabel, type ResticTarget} from '../adapters/restic.js';
import {makeDirs, readStateFile, stateFolder} from '../adapters/safe-fs.js';
import {Repository, sha256File} from './repository.js';
import {keepKit, syncKit} from './kit.js';
import {RECEIPTS} from './receipts.js';
import {assertRestorable, restoreBackup, type Restored, type RestoreOptions} from './restore.js';

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

/** The snapshots of `vm`'s points on a target, oldest first. */
export async function listRemote(target: ResticTarget, vm: string, signal?: AbortSignal): Promise<RemotePoint[]> {
	const text = await restic(target, ['snapshots', '--json', '--tag', vmTagFilter(vm)], {signal});
	let json: unknown;
	try {
		json = JSON.parse(text || '[]');
	} catch {
		throw new SnapdeckError('failed', `restic snapshots on ${targetLabel(target)} did not answer in JSON`);
	}
	const parsed = ResticSnapshot.array().safeParse(json ?? []);
	if (!parsed.success) throw new SnapdeckError('failed', `restic snapshots on ${targetLabel(target)} answered with something that is not a snapshot list`);
	return remotePoints(parsed.data, vm).points;
}

/** The VM's points on the target, after making a restic repository there if there is none (`created`). */
async function listOrCreate(target: ResticTarget, vm: string, signal?: AbortSignal): Promise<{points: RemotePoint[]; created: boolean}> {
	try {
		return {points: await listRemote(target, vm, signal), created: false};
	} catch (error) {
		if (!(error instanceof ResticError) || error.failure !== 'no-repository') throw error;
	}
	await restic(target, ['init'], {signal});
	return {points: [], created: true};
}

/** This host's record of a VM's copies (`.snapdeck/offsite.json` beside its local backups). */
const stateFile = (repo: Repository, vm: string) => path.join(stateDir(repo.vmDir(vm)), 'offsite.json');

export async function readOffsiteState(repo: Repository, vm: string): Promise<OffsiteState> {
	const text = await readStateFile(stateFile(repo, vm)).catch(() => null);
	if (text === null) return {version: 1, targets: []};
	try {
		return OffsiteState.parse(JSON.parse(text));
	} catch {
		// A damaged record only costs health its knowledge of past copies; the next copy rewrites it.
		return {version: 1, targets: []};
	}
}

async function updateOffsiteState(repo: Repository, vm: string, target: ResticTarget, change: Partial<Pick<OffsiteRecord, 'lastCopy' | 'lastCheck'>>): Promise<void> {
	await repo.ownFolder(vm);
	await stateFolder(stateDir(repo.vmDir(vm)), `the state folder of ${vm}'s backups`);
	const state = await readOffsiteState(repo, vm);
	const old = state.targets.find(record => record.repository === target.repository);
	const record: OffsiteRecord = {repository: target.repository, name: target.name ?? old?.name ?? null, lastCopy: old?.lastCopy ?? null, lastCheck: old?.lastCheck ?? null, ...change};
	await writeJsonAtomic(stateFile(repo, vm), {version: 1, targets: [...state.targets.filter(other => other !== old), record]} satisfies OffsiteState);
}

/** Progress events from restic's --json status lines. */
function resticProgress(onEvent: CopyOptions['onEvent']) {
	return (line: Record<string, unknown>) => {
		if (line['message_type'] !== 'status') return;
		const done = Number(line['bytes_done'] ?? 0);
		const total = Number(line['total_bytes'] ?? 0);
		const seconds = Number(line['seconds_elapsed'] ?? 0);
		const remaining = line['seconds_remaining'];
		onEvent?.({type: 'progress', index: 0, fraction: Number(line['percent_done'] ?? 0), bytesDone: done, bytesTotal: total, rate: seconds > 0 ? done / seconds : 0, eta: typeof remaining === 'number' ? remaining : null});
	};
}

/**
 * Copies one point to an off-site target as one restic snapshot holding the point whole (its
 * chain's files and a manifest of that chain). Its caller holds the VM's repository lock; the files are
 * hard-linked into a staging folder so the snapshot's paths are the same for every copy (restic
 * then reads only files it has not seen). A copy that is killed leaves no snapshot (restic writes
 * it last); what it uploaded is reused by the next one.
 */
export async function copyToTarget(repo: Repository, vm: string, target: ResticTarget, options: CopyOptions, job: JobContext): Promise<CopyResult> {
	let staging: string | null = null;
	try {
		const manifest = await repo.read(vm);
		const point = options.point === undefined ? latestPoint(manifest.points) : findPoint(manifest, options.point);
		if (!point) throw new SnapdeckError('not-found', `there are no backups of ${vm} in ${repo.root} to copy`, `take one with 'snapdeck backup ${vm}'`, 'no-backups');
		assertRestorable(manifest, point, options.force);
		const chain = pointChain(manifest, point.id).reverse();
		const problems = await repo.chainHeaderProblems(manifest, point.id);
		if (problems.length > 0) throw new SnapdeckError('failed', `cannot copy point ${point.id}: ${problems.join('; ')}`, `run 'snapdeck verify ${vm}' to see which points are intact, and copy another`);
		const bytes = chain.reduce((sum, member) => sum + member.files.reduce((inner, file) => inner + file.size, 0), 0);
		options.onEvent?.({type: 'step', index: 0, total: 1, summary: `copy point ${point.id} of ${vm} (${formatBytes(bytes)} in ${chain.length} point${chain.length === 1 ? '' : 's'}) to ${targetLabel(target)}`, resumed: false});
		const {points: there, created} = await listOrCreate(target, vm, options.signal);
		const existing = there.find(remote => remote.id === point.id);
		if (existing) {
			// What health knows follows what the target holds (copied from here before, or by another run).
			await updateOffsiteState(repo, vm, target, {lastCopy: {at: existing.copiedAt.replace(/(\.\d{3})\d*Z$/, '$1Z'), point: point.id, snapshot: existing.snapshot, uploaded: 0}});
			return {point: point.id, snapshot: existing.snapshot, uploaded: 0, bytes, already: true, created};
		}
		// Earlier points' archives are theirs: the snapshot holds this point's only.
		staging = await job.workFolder(await stateFolder(stateDir(repo.vmDir(vm)), `the state folder of ${vm}'s backups`), 'offsite-copy');
		await stage(repo, vm, staging, {version: 1, vm, identity: manifest.identity, points: chain.map(member => (member === point ? member : {...member, archive: null, bootFiles: []}))});
		const parent = [...there].sort((a, b) => a.copiedAt.localeCompare(b.copiedAt)).at(-1);
		await job.begin(point.id, `to ${targetLabel(target)}`);
		let summary: Record<string, unknown> | null = null;
		const progress = resticProgress(options.onEvent);
		try {
			job.step('staged');
			await restic(target, ['backup', '--json', '--ignore-ctime', '--tag', offsiteTags(vm, point).join(','), ...(parent ? ['--parent', parent.snapshot] : []), '.'], {
				// A full target: restic would retry each refused write for minutes.
				cwd: staging, signal: options.signal, stopOn: 'full',
				onJson: line => (line['message_type'] === 'summary' ? (summary = line) : progress(line)),
			});
		} catch (error) {
			if (options.signal?.aborted) throw new SnapdeckError('failed', `the copy of point ${point.id} to ${targetLabel(target)} was cancelled; no snapshot was made there, and the next copy reuses what was uploaded`);
			throw error;
		}
		const done = summary as Record<string, unknown> | null;
		const snapshot = String(done?.['snapshot_id'] ?? '');
		const uploaded = Number(done?.['data_added'] ?? 0);
		job.step('uploaded');
		await updateOffsiteState(repo, vm, target, {lastCopy: {at: (options.now ?? new Date()).toISOString(), point: point.id, snapshot, uploaded}});
		options.onEvent?.({type: 'done', index: 0});
		return {point: point.id, snapshot, uploaded, bytes, already: false, created};
	} finally {
		if (staging !== null) await rm(staging, {recursive: true, force: true}).catch(() => undefined);
	}
}

/** The staging folder of a copy: the chain's manifest, and its files linked (copied where links are not allowed). */
async function stage(repo: Repository, vm: string, staging: string, manifest: Manifest): Promise<void> {
	// The restore kit travels with the copy: restic restore, then sh restore.sh, with nothing of snapdeck's.
	await keepKit(staging);
	await syncKit(staging, manifest);
	// The point's receipts travel with it: what was proved of it, signed.
	const point = manifest.points.at(-1);
	const receipts = point ? (await readdir(path.join(repo.vmDir(vm), RECEIPTS)).catch(() => [] as string[])).filter(name => name.includes(`-${point.id}-`) && name.endsWith('.json')) : [];
	if (receipts.length > 0) await makeDirs(path.join(staging, RECEIPTS), 'the staging folder of an off-site copy');
	for (const name of receipts) await copyFile(path.join(repo.vmDir(vm), RECEIPTS, name), path.join(staging, RECEIPTS, name));
	await writeFile(path.join(staging, 'manifest.json'), `${JSON.stringify(manifest, null, 2)}\n`, {mode: 0o600, flag: 'wx'});
	for (const member of manifest.points) {
		for (const file of [...member.files.map(own => own.file), ...(member.archive ?? []).map(image => archiveFile(member.id, image.name)), ...member.bootFiles.map(boot => boot.file)]) {
			const to = path.join(staging, file);
			await makeDirs(path.dirname(to), 'the staging folder of an off-site copy');
			await link(repo.resolve(vm, file), to).catch(async (error: NodeJS.ErrnoException) => {
				if (!['EPERM', 'ENOTSUP', 'EXDEV', 'EMLINK'].includes(error.code ?? '')) throw error;
				await copyFile(repo.resolve(vm, file), to);
			});
		}
	}
}

/** The remote point `id` of `vm`: refused where more than one snapshot claims it (see claimedTwice). */
async function remotePoint(target: ResticTarget, vm: string, id: string, signal?: AbortSignal): Promise<RemotePoint> {
	const points = await listRemote(target, vm, signal);
	const claims = points.filter(point => point.id === id);
	if (claims.length > 1) {
		throw new SnapdeckError('refused', `${claims.length} snapshots on ${targetLabel(target)} claim point ${id} of ${vm} (${describeClaims(claims)}), and snapdeck copies a point once: all but one were added by someone else with the target's password, so none is restored`, `look at them ('restic snapshots'), forget those this host did not make, and check who can write to the target; or restore another point`, 'damaged');
	}
	const found = claims[0];
	if (!found) {
		throw new SnapdeckError('not-found', `${targetLabel(target)} holds no point ${id} of ${vm}`, points.length > 0 ? `it holds: ${points.map(point => point.id).join(', ')}` : `copy one there with 'snapdeck copy ${vm} --to ${target.name ?? target.repository}'`, 'no-such-point');
	}
	return found;
}

/**
 * Restores a point from an off-site target, with nothing of the local repository needed: the
 * snapshot is restored into a private staging folder under `stagingDir`, read as a repository
 * (its manifest checked like any other, each file against its checksum), and restored from there
 * exactly as a local point is (--to PATH or --as NAME). The staging folder goes afterwards.
 */
export async function restoreFromTarget(target: ResticTarget, hypervisor: Hypervisor, vm: string, stagingDir: string, options: RestoreOptions, job: JobContext): Promise<Restored> {
	const remote = await remotePoint(target, vm, options.point, options.signal);
	const root = await job.workFolder(stagingDir, 'offsite-restore');
	try {
		options.onEvent?.({type: 'step', index: 0, total: 1, summary: `fetch point ${remote.id} of ${vm} from ${targetLabel(target)}`, resumed: false});
		await restic(target, ['restore', remote.snapshot, '--target', path.join(root, vm)], {signal: options.signal});
		job.step('fetched');
		const staged = new Repository(root);
		const manifest = await staged.read(vm);
		const point = findPoint(manifest, remote.id);
		for (const member of pointChain(manifest, point.id)) {
			const files = [...member.files, ...(member === point ? point.archive ?? [] : []).map(image => ({file: archiveFile(point.id, image.name), sha256: image.sha256})), ...(member === point ? point.bootFiles : [])];
			for (const file of files) {
				const absolute = staged.resolve(vm, file.file);
				// A snapshot is data from elsewhere: a link in it (to a file of this host) is never followed.
				if (!(await lstat(absolute).then(entry => entry.isFile(), () => true))) throw new SnapdeckError('failed', `point ${remote.id} on ${targetLabel(target)} holds ${file.file} as a link or device, not a file: it is not restored`, 'someone with the password changed that snapshot: restore another point, and check who can write to the target');
				const sum = await sha256File(absolute, options.signal).catch(() => null);
				if (sum !== file.sha256) throw new SnapdeckError('failed', `point ${remote.id} on ${targetLabel(target)} is damaged: ${file.file} ${sum === null ? 'is missing' : 'does not match its checksum'}`, `run 'snapdeck verify ${vm} --from ${target.name ?? target.repository} --read-data', and restore another point`);
			}
		}
		job.step('checked');
		return await restoreBackup(staged, hypervisor, vm, options, job);
	} finally {
		await rm(root, {recursive: true, force: true});
	}
}

export interface RemoteVerdict {
	readonly ok: boolean;
	/** What restic read: "all" data, a subset ("10%"), or none (structure only). */
	readonly readData: string;
	readonly problems: readonly string[];
	/** The VM's points on the target. */
	readonly points: readonly RemotePoint[];
}

/**
 * Checks a target with restic's `check`: its structure always, and the data of a subset of its
 * packs (`readData`: "10%" by default) or all of it ("all"). The verdict is kept for health.
 */
export async function verifyTarget(repo: Repository | null, target: ResticTarget, vm: string, options: {readData?: string; signal?: AbortSignal; now?: Date; command: string}): Promise<RemoteVerdict> {
	const readData = options.readData ?? '10%';
	const points = await listRemote(target, vm, options.signal);
	if (points.length === 0) throw new SnapdeckError('not-found', `${targetLabel(target)} holds no point of ${vm}`, `copy one there with 'snapdeck copy ${vm} --to ${target.name ?? target.repository}'`, 'no-backups');
	const args = ['check', ...(readData === 'all' ? ['--read-data'] : readData === 'none' ? [] : [`--read-data-subset=${readData}`])];
	// Points claimed by more than one snapshot: someone else added to the target (none of them is restored).
	const twice = [...claimedTwice(points)].map(([id, claims]) => `point ${id} is claimed by ${claims.length} snapshots (${describeClaims(claims)}): all but one were added by someone else with the target's password`);
	let problems: string[] = [];
	try {
		await restic(target, args, {signal: options.signal});
	} catch (error) {
		if (!(error instanceof ResticError) || error.failure !== 'other') throw error;
		// restic names packs; the operator needs to know which points: each one's files are read back.
		const found = error.details.filter(line => /pack|blob|error|damaged|mismatch|does not match|unexpected|missing/i.test(line) && !/^(Fatal: repository contains errors$|check |read |load |using temporary|create exclusive lock)/.test(line));
		problems = [`restic check: ${found.join('; ') || error.message}`, ...(await damagedPoints(target, vm, points, options.signal))];
	}
	problems = [...twice, ...problems];
	const verdict = {ok: problems.length === 0, readData, problems, points};
	if (repo) {
		await updateOffsiteState(repo, vm, target, {lastCheck: {at: (options.now ?? new Date()).toISOString(), ok: verdict.ok, readData, message: problems.join('; ') || 'ok'}}).catch(() => undefined);
		await repo.journal(vm, {action: 'verify', snapshot: points.map(point => point.id).join(', '), outcome: verdict.ok ? 'done' : 'failed', message: `${targetLabel(target)}: ${problems.join('; ') || `ok (read ${readData} of the data)`}`}).catch(() => undefined);
	}
	return verdict;
}

/** The sha256 of a file inside a snapshot, read with restic dump; the error restic gave when it cannot be read. */
async function remoteSha256(target: ResticTarget, snapshot: string, file: string, signal?: AbortSignal): Promise<string | Error> {
	const hash = createHash('sha256');
	try {
		await restic(target, ['dump', snapshot, `/${file}`], {signal, onData: chunk => hash.update(chunk)});
		return hash.digest('hex');
	} catch (error) {
		if (signal?.aborted) throw error;
		return error as Error;
	}
}

/**
 * Which of the VM's points on a target read back wrong: each snapshot's manifest, then each file
 * it names (once, however many snapshots share it) against the checksum the manifest records.
 */
async function damagedPoints(target: ResticTarget, vm: string, points: readonly RemotePoint[], signal?: AbortSignal): Promise<string[]> {
	const problems: string[] = [];
	const files = new Map<string, string | null>();
	for (const point of points) {
		let manifest: Manifest;
		try {
			manifest = Manifest.parse(JSON.parse(await restic(target, ['dump', point.snapshot, '/manifest.json'], {signal})));
		} catch (error) {
			if (signal?.aborted) throw error;
			problems.push(`point ${point.id}: its manifest cannot be read back (${errorMessage(error)})`);
			continue;
		}
		const bad: string[] = [];
		for (const member of manifest.points) {
			for (const file of member.files) {
				const key = `${file.file}:${file.sha256}`;
				if (!files.has(key)) {
					const sum = await remoteSha256(target, point.snapshot, file.file, signal);
					files.set(key, sum instanceof Error ? `cannot be read back (${sum.message})` : sum === file.sha256 ? null : 'does not match its checksum');
				}
				const wrong = files.get(key);
				if (wrong) bad.push(`${file.file} ${wrong}`);
			}
		}
		if (bad.length > 0) problems.push(`point ${point.id} is damaged there: ${bad.join('; ')}`);
	}
	return problems;
}

export interface RemotePrunePlan {
	readonly target: string;
	readonly keep: readonly RemotePoint[];
	readonly remove: readonly RemotePoint[];
}

/** Which of a VM's points on a target its retention keeps: each snapshot holds its point whole, so any may go. */
export async function planTargetPrune(target: ResticTarget, vm: string, retention: Retention, signal?: AbortSignal): Promise<RemotePrunePlan> {
	const points = await listRemote(target, vm, signal);
	const {remove} = selectRetention(points.map(point => ({id: point.snapshot, createdAt: point.createdAt})), retention);
	const removed = new Set(remove);
	return {target: targetLabel(target), keep: points.filter(point => !removed.has(point.snapshot)), remove: points.filter(point => removed.has(point.snapshot))};
}

/** Forgets the planned snapshots and prunes the data no snapshot uses any more (restic forget, then prune). */
export async function pruneTarget(target: ResticTarget, plan: RemotePrunePlan, options: {signal?: AbortSignal}, job: JobContext): Promise<void> {
	if (plan.remove.length === 0) return;
	await job.begin(plan.remove.map(point => point.id).join(', '), `on ${targetLabel(target)}`);
	// An append-only target refuses the first delete; restic would retry it for minutes.
	job.step('forgetting');
	await restic(target, ['forget', ...plan.remove.map(point => point.snapshot)], {signal: options.signal, stopOn: 'append-only'});
	// Killed here, the points are forgotten and their data waits for the next prune (restic's own, or this one run again).
	job.step('forgotten');
	await restic(target, ['prune'], {signal: options.signal, stopOn: 'append-only'});
}

