import path from 'node:path';
import {recordedCopies, type RecordedCopies} from '../core/offsite-claims.js';
import {OffsiteState, isRecordOf, type OffsiteCopy, type OffsiteRecord} from '../core/offsite-model.js';
import {maskCredentials} from '../core/notifications.js';
import {writeJsonAtomic} from '../adapters/state/atomic-file.js';
import {stateDir} from '../adapters/state/operation-store.js';
import type {ResticTarget} from '../adapters/restic.js';
import {readStateFile, stateFolder} from '../adapters/safe-fs.js';
import type {Repository} from './repository.js';

/**
 * This host's record of a VM's copies (`.snapdeck/offsite.json` beside its local backups): per
 * target, the last copy and check (health reads them), and the restic id of every copy made
 * (what tells this host's snapshots from ones another holder of the password added).
 */
const stateFile = (repo: Repository, vm: string) => path.join(stateDir(repo.vmDir(vm)), 'offsite.json');

export async function readOffsiteState(repo: Repository, vm: string): Promise<OffsiteState> {
	const text = await readStateFile(stateFile(repo, vm)).catch(() => null);
	if (text === null) return {version: 1, targets: []};
	try {
		return OffsiteState.parse(JSON.parse(text));
	} catch {
		// A damaged record costs health its knowledge of past copies, and restores from a target the
		// knowledge of which snapshots are this host's: they then act as after a disaster (two claims refused).
		return {version: 1, targets: []};
	}
}

/** What this host recorded of its copies to `target`; null without a repository or a record of that target. */
export async function recordOf(
	repo: Repository | null,
	vm: string,
	target: ResticTarget,
): Promise<RecordedCopies | null> {
	if (!repo) return null;
	return recordedCopies((await readOffsiteState(repo, vm)).targets.find(isRecordOf(target.repository)));
}

type Change = (record: OffsiteRecord) => Partial<Pick<OffsiteRecord, 'lastCopy' | 'lastCheck' | 'copies' | 'pending'>>;

export async function updateOffsiteState(
	repo: Repository,
	vm: string,
	target: ResticTarget,
	change: Change | Partial<Pick<OffsiteRecord, 'lastCopy' | 'lastCheck'>>,
): Promise<void> {
	await repo.ownFolder(vm);
	await stateFolder(stateDir(repo.vmDir(vm)), `the state folder of ${vm}'s backups`);
	const state = await readOffsiteState(repo, vm);
	const old = state.targets.find(isRecordOf(target.repository));
	const base: OffsiteRecord = {
		repository: maskCredentials(target.repository),
		name: target.name ?? old?.name ?? null,
		lastCopy: old?.lastCopy ?? null,
		lastCheck: old?.lastCheck ?? null,
		copies: old?.copies ?? [],
		pending: old?.pending ?? [],
	};
	const record: OffsiteRecord = {...base, ...(typeof change === 'function' ? change(base) : change)};
	await writeJsonAtomic(stateFile(repo, vm), {
		version: 1,
		targets: [...state.targets.filter(other => other !== old), record],
	} satisfies OffsiteState);
}

/** Records a copy made from here: the last copy (for health), and the copy among all of them. */
export async function recordCopy(
	repo: Repository,
	vm: string,
	target: ResticTarget,
	copy: OffsiteCopy & {uploaded: number},
): Promise<void> {
	const {uploaded, ...made} = copy;
	await updateOffsiteState(repo, vm, target, record => ({
		lastCopy: {...made, uploaded},
		// A record an older snapdeck wrote has its last copy only, by restic's short id: kept out (it proves nothing).
		copies: [...record.copies.filter(other => other.snapshot !== made.snapshot), made],
		pending: record.pending.filter(begun => begun.point !== made.point),
	}));
}

/** Records, before restic runs, that a copy of `point` is staged in `staging`: see OffsiteRecord.pending. */
export async function recordPendingCopy(
	repo: Repository,
	vm: string,
	target: ResticTarget,
	begun: {at: string; point: string; staging: string},
): Promise<void> {
	await updateOffsiteState(repo, vm, target, record => ({
		pending: [...record.pending.filter(other => other.staging !== begun.staging), begun],
	}));
}

/** The copies of `point` to `target` this host began and did not record (a kill came between restic and the record). */
export async function pendingCopies(
	repo: Repository,
	vm: string,
	target: ResticTarget,
	point: string,
): Promise<string[]> {
	const record = (await readOffsiteState(repo, vm)).targets.find(isRecordOf(target.repository));
	return (record?.pending ?? []).filter(begun => begun.point === point).map(begun => begun.staging);
}

/** Drops the copies a prune from here forgot on the target. */
export async function forgetCopies(
	repo: Repository,
	vm: string,
	target: ResticTarget,
	snapshots: readonly string[],
): Promise<void> {
	const gone = new Set(snapshots);
	await updateOffsiteState(repo, vm, target, record => ({
		copies: record.copies.filter(copy => !gone.has(copy.snapshot)),
	}));
}
