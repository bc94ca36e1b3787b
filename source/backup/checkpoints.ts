import path from 'node:path';
import os from 'node:os';
import {userDir} from '../core/user-dirs.js';
import {parseBackupBitmap} from '../core/backup-manifest.js';
import {writeJsonAtomic} from '../adapters/state/atomic-file.js';
import {fileExists} from '../adapters/file-checks.js';
import {makeDirs, readStateFile} from '../adapters/safe-fs.js';
import {Repository} from './repository.js';
import type {VmIdentity} from '../core/identity.js';
import type {OperationStore} from '../core/plan.js';

/**
 * Which repository each bitmap tag stands for: written when a repository is first backed up into
 * from this host, so that a bitmap of another repository can still be judged (is its repository,
 * is its point, still there?). Beside the journal, in the user's data folder.
 */
export const registryFile = () => {
	const journal = process.env['SNAPDECK_JOURNAL'];
	return journal
		? `${journal}.repositories.json`
		: path.join(userDir('data', process.env, os.homedir()), 'repositories.json');
};

async function readRegistry(): Promise<Record<string, string>> {
	const text = await readStateFile(registryFile()).catch(() => null);
	try {
		const parsed = text === null ? {} : (JSON.parse(text) as unknown);
		return parsed !== null && typeof parsed === 'object' ? (parsed as Record<string, string>) : {};
	} catch {
		return {};
	}
}

/**
 * Records the repository's tag, once: with the VM's state, and (unless the repository was named on
 * the command line, when nothing is written outside what was named) in this user's list.
 */
export async function rememberRepository(repo: Repository, vmState?: OperationStore, userList = true): Promise<void> {
	await vmState?.repositoryTags?.remember(repo.tag, repo.root);
	if (!userList) return;
	const known = await readRegistry();
	if (known[repo.tag] === repo.root) return;
	await makeDirs(path.dirname(registryFile()), 'the data folder');
	await writeJsonAtomic(registryFile(), {...known, [repo.tag]: repo.root});
}

export interface CheckpointStatus {
	readonly name: string;
	/** The repository its tag stands for, where known. */
	readonly repository: string | null;
	readonly point: string;
	/** Why no backup needs it any more; null while one does (the newest point's, or a backup's in progress). */
	readonly stale: string | null;
}

/**
 * Judges snapdeck's bitmaps on a VM: each belongs to one point of one repository, and only the
 * newest complete point's (and that of a backup being written) is needed for the next incremental.
 * Bitmaps of other tools are not listed.
 */
export async function judgeBitmaps(
	vm: string,
	identity: VmIdentity | null,
	names: Iterable<string>,
	current: Repository | null,
	vmState?: OperationStore,
): Promise<CheckpointStatus[]> {
	const registry: Record<string, string> = {
		...(await readRegistry()),
		...((await vmState?.repositoryTags?.read().catch(() => ({}))) ?? {}),
	};
	const out: CheckpointStatus[] = [];
	for (const name of [...new Set(names)].sort()) {
		const parsed = parseBackupBitmap(name);
		if (!parsed) continue;
		const root = current?.tag === parsed.tag ? current.root : (registry[parsed.tag] ?? null);
		const status = (stale: string | null) => out.push({name, repository: root, point: parsed.point, stale});
		if (root === null) {
			status('it belongs to a repository this host has no record of');
			continue;
		}
		if (!(await fileExists(root))) {
			status(`its repository ${root} is gone`);
			continue;
		}
		// The VM's own folder there: a bitmap is judged by this VM's points, never another's of its name.
		const other: Repository = current !== null && current.root === root ? current : new Repository(root);
		const manifest = await (current === other ? Promise.resolve() : other.bind(vm, identity))
			.then(() => other.read(vm))
			.catch(() => null);
		// A manifest that cannot be read says nothing: keep the bitmap rather than guess.
		if (!manifest) {
			status(null);
			continue;
		}
		const point = manifest.points.find(candidate => candidate.id === parsed.point);
		const newest = manifest.points.filter(candidate => candidate.state === 'complete').at(-1);
		if (!point) status(`point ${parsed.point} is gone from ${root}`);
		else if (point.state === 'partial' || point.id === newest?.id) status(null);
		else
			status(
				`point ${parsed.point} is no longer the newest in ${root} (the next backup there follows ${newest?.id ?? 'none'})`,
			);
	}
	return out;
}
