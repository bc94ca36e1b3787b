import {createHash} from 'node:crypto';
import {chmod, lstat, readdir, rename, rm, stat, writeFile} from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import {userDir} from '../core/user-dirs.js';
import {z} from 'zod';
import {definitionUuid, Manifest} from '../core/backup-manifest.js';
import {describeVm, identityTag, sameVm, type VmIdentity} from '../core/identity.js';
import {errorMessage, SnapdeckError} from '../core/errors.js';
import {assertValidName, NAME_PATTERN} from '../core/names.js';
import type {JournalEntry} from '../core/plan.js';
import {fsyncFile, writeJsonAtomic} from '../adapters/state/atomic-file.js';
import {syncKit} from './write-kit.js';
import {cleanupRepository} from './repository-cleanup.js';
import {fileExists} from '../adapters/file-checks.js';
import {acquireLock, lockHolder} from '../adapters/state/lock.js';
import {folderJobStore, folderOperationStore, stateDir} from '../adapters/state/operation-store.js';
import {fileSystemError, isUnwritable, makeDirs, readStateFile, realFolder, stateFolder} from '../adapters/safe-fs.js';

/** The repository used when neither --repo, SNAPDECK_REPO nor the config names one. */
export const defaultRepositoryDir = () => path.join(userDir('data', process.env, os.homedir()), 'backups');

/** One VM's folder of backups in a repository, and whose it is. */
export interface VmFolder {
	/** `VM`, or `VM@TAG` for a VM of that name with another identity (core/identity.ts). */
	readonly folder: string;
	/** Whose backups the manifest says these are; null for a folder of an older snapdeck (or one whose manifest cannot be read). */
	readonly identity: VmIdentity | null;
	readonly points: number;
	/** The manifest could not be read: whose they are is unknown. */
	readonly damaged: boolean;
	/** For a folder of an older snapdeck: the UUIDs its points' definitions name (a libvirt domain's, a vm.json's), which tell whose they were. */
	readonly uuids: readonly string[];
}

/** What binding a VM to its folder found (Repository.bind). */
export interface Binding {
	readonly vm: string;
	readonly folder: string;
	/** The VM the folder is bound for; null where the VM is not on the connection (a restore after a disaster). */
	readonly identity: VmIdentity | null;
	/** The folder holds backups of another VM of the same name (chosen with --origin, or the only one there). */
	readonly foreign: VmFolder | null;
	/** The other folders of VMs of this name: a hint, never used. */
	readonly others: readonly VmFolder[];
}

const FOLDER_TAG = /^[0-9a-f]{12}$/;

/**
 * A backup repository: `ROOT/<vm>/manifest.json` lists the points; each disk's point files are
 * `ROOT/<vm>/<disk>/<id>.qcow2`, an incremental's backing file being the previous point's file.
 * `ROOT/<vm>/.snapdeck/` holds the lock, job records, a pending prune and the journal. Each folder
 * is one VM's, by identity: a VM of the same name on another host (or another lab) has its own
 * folder `ROOT/<vm>@TAG` (see bind); nothing of one is ever taken for the other's.
 */
export class Repository {
	readonly root: string;
	/** The folder each VM was bound to (bind), by VM name. */
	private readonly bindings = new Map<string, Binding>();

	/**
	 * `connection`: the connection the VMs are on, as journal lines name it; `central`: whether its
	 * journal lines also go to the central journal (not for a repository named with --repo: nothing
	 * is written outside what was named).
	 */
	constructor(
		root: string,
		private readonly options: {connection?: string; central?: boolean} = {},
	) {
		this.root = path.resolve(root);
	}

	/**
	 * Where point `id` of a VM named `vm` is, among the folders of other VMs of that name than the
	 * one bound: for the hint that says whose it is and how to restore it deliberately.
	 */
	async otherPoint(vm: string, id: string): Promise<VmFolder | null> {
		for (const folder of this.bindings.get(vm)?.others ?? []) {
			const text = await readStateFile(path.join(this.root, folder.folder, 'manifest.json')).catch(() => null);
			try {
				if (text !== null && Manifest.parse(JSON.parse(text)).points.some(point => point.id === id)) return folder;
			} catch {
				// A folder whose manifest cannot be read holds nothing to point at.
			}
		}
		return null;
	}

	/** Binds `vm` to `folder` as it is (a folder found by what it holds, such as an instant restore's mark). */
	bindFolder(vm: string, folder: string): Repository {
		assertValidName('VM', vm);
		this.bindings.set(vm, {vm, folder, identity: null, foreign: null, others: []});
		return this;
	}

	/** The marks of instant restores as `name` (REPO/SOURCE/.snapdeck/instant/NAME.json), with the folder and VM they are in. */
	async instantMarks(name: string): Promise<Array<{folder: string; source: string}>> {
		assertValidName('VM', name);
		const marks: Array<{folder: string; source: string}> = [];
		for (const entry of await readdir(this.root, {withFileTypes: true}).catch(() => [])) {
			if (!entry.isDirectory() || entry.name.startsWith('.')) continue;
			const text = await readStateFile(path.join(this.root, entry.name, '.snapdeck', 'instant', `${name}.json`)).catch(
				() => null,
			);
			if (text === null) continue;
			const source = entry.name.split('@')[0]!;
			if (NAME_PATTERN.test(source)) marks.push({folder: entry.name, source});
		}
		return marks;
	}

	/** The journal files of every folder of VMs named `vm` here (each VM's backups keep their own). */
	async journalFiles(vm: string): Promise<string[]> {
		return (await this.folders(vm)).map(folder => path.join(this.root, folder.folder, '.snapdeck', 'journal.jsonl'));
	}

	/** Short and stable per repository: names the dirty bitmaps this repository's backups follow. */
	get tag(): string {
		return createHash('sha256').update(this.root).digest('hex').slice(0, 8);
	}

	/** The VM's folder: the one bind() chose, else `ROOT/<vm>`. */
	vmDir(vm: string): string {
		assertValidName('VM', vm);
		return path.join(this.root, this.bindings.get(vm)?.folder ?? vm);
	}

	/** What bind() found for the VM, if it was bound. */
	bindingOf(vm: string): Binding | undefined {
		return this.bindings.get(vm);
	}

	/** Every folder of backups of VMs named `vm` here (`vm` and `vm@TAG`), with whose they are. */
	async folders(vm: string): Promise<VmFolder[]> {
		assertValidName('VM', vm);
		const names = (await readdir(this.root, {withFileTypes: true}).catch(() => []))
			.filter(
				entry =>
					entry.isDirectory() &&
					(entry.name === vm || (entry.name.startsWith(`${vm}@`) && FOLDER_TAG.test(entry.name.slice(vm.length + 1)))),
			)
			.map(entry => entry.name)
			.sort();
		return Promise.all(
			names.map(async folder => {
				const text = await readStateFile(path.join(this.root, folder, 'manifest.json')).catch(() => null);
				let parsed: Manifest | null = null;
				try {
					parsed = text === null ? null : Manifest.parse(JSON.parse(text));
				} catch {
					parsed = null;
				}
				const damaged = text !== null && parsed === null;
				const uuids = [
					...new Set(
						(parsed?.points ?? [])
							.map(point => definitionUuid(point.definition))
							.filter((uuid): uuid is string => uuid !== null),
					),
				];
				return {folder, identity: parsed?.identity ?? null, points: parsed?.points.length ?? 0, damaged, uuids};
			}),
		);
	}

	/**
	 * Binds a VM to its folder of backups: the one whose manifest names its identity; else `ROOT/<vm>`
	 * when it is free or was written by an older snapdeck for (as far as its points tell) this VM,
	 * which is then adopted at the next write; else a new `ROOT/<vm>@TAG`. With `origin` (a folder, a
	 * tag or a host name), the folder of another VM of that name, for what is done deliberately with
	 * another VM's points (restore --as, --to; verify; backups). Without an identity (the VM is
	 * not on the connection: a restore after a disaster), the only folder there is, or a refusal
	 * that lists them.
	 */
	async bind(vm: string, identity: VmIdentity | null, origin?: string): Promise<Binding> {
		const folders = await this.folders(vm);
		const own = identity
			? folders.find(folder => folder.identity !== null && sameVm(folder.identity, identity))
			: undefined;
		const describe = (folder: VmFolder) =>
			`${path.join(this.root, folder.folder)}: ${describeVm(vm, folder.identity)}, ${folder.points} point${folder.points === 1 ? '' : 's'}`;
		let chosen: string;
		let foreign: VmFolder | null = null;
		if (origin !== undefined) {
			const match = folders.find(
				folder =>
					folder.folder === origin ||
					folder.folder === `${vm}@${origin}` ||
					folder.identity?.hostName === origin ||
					(folder.identity !== null && identityTag(folder.identity) === origin),
			);
			if (!match)
				throw new SnapdeckError(
					'not-found',
					`${this.root} holds no backups of a VM ${vm} from '${origin}'`,
					folders.length > 0 ? `it holds: ${folders.map(describe).join('; ')}` : `it holds no backups of a VM ${vm}`,
					'no-backups',
				);
			chosen = match.folder;
			foreign = identity !== null && match.identity !== null && sameVm(match.identity, identity) ? null : match;
		} else if (own) {
			chosen = own.folder;
		} else if (identity) {
			const base = folders.find(folder => folder.folder === vm);
			// An older snapdeck's folder is this VM's unless its points name another VM's UUID.
			const basesOwn =
				base && base.identity === null && (base.damaged || base.uuids.every(uuid => uuid === identity.uuid));
			chosen = !base || basesOwn ? vm : `${vm}@${identityTag(identity)}`;
		} else if (folders.length <= 1) {
			chosen = folders[0]?.folder ?? vm;
			foreign = folders[0] ?? null;
		} else {
			throw new SnapdeckError(
				'usage',
				`${this.root} holds backups of ${folders.length} VMs named ${vm}, and ${vm} is not on this connection to tell which is meant`,
				`say which with --origin (a host name or the folder's tag): ${folders.map(describe).join('; ')}`,
			);
		}
		const binding: Binding = {
			vm,
			folder: chosen,
			identity,
			foreign,
			others: folders.filter(folder => folder.folder !== chosen),
		};
		this.bindings.set(vm, binding);
		return binding;
	}

	/** A point file's absolute path from its name in the manifest. */
	resolve(vm: string, file: string): string {
		return path.join(this.vmDir(vm), file);
	}

	/** The VM's manifest: the list of its points. */
	manifestFile(vm: string): string {
		return path.join(this.vmDir(vm), 'manifest.json');
	}

	async read(vm: string): Promise<Manifest> {
		const file = this.manifestFile(vm);
		const text = await readStateFile(file);
		if (text === null) return {version: 1, vm, identity: this.bindings.get(vm)?.identity ?? null, points: []};
		let json: unknown;
		try {
			json = JSON.parse(text);
		} catch (error) {
			throw new SnapdeckError(
				'failed',
				`${file} is not valid JSON: ${errorMessage(error)}`,
				'the backup files beside it are intact; restore the manifest from a copy, or move the folder away and take a full backup',
			);
		}
		const parsed = Manifest.safeParse(json);
		if (!parsed.success)
			throw new SnapdeckError(
				'failed',
				`${file} is not a snapdeck manifest: ${z.prettifyError(parsed.error).replaceAll('\n', ' ')}`,
				'restore it from a copy, or move the folder away and take a full backup',
			);
		return parsed.data;
	}

	/**
	 * Validated, then written atomically (temp file, fsync, rename, fsync of the folder). A folder
	 * bound for a VM carries its identity: a manifest of an older snapdeck is adopted here (its
	 * points given the VM's identity), once, with a journal line that says so.
	 */
	async write(manifest: Manifest): Promise<void> {
		const binding = this.bindings.get(manifest.vm);
		let written = manifest;
		if (binding?.identity && !binding.foreign) {
			const identity = binding.identity;
			const adopted = manifest.points.filter(point => point.identity === null).map(point => point.id);
			if (manifest.identity !== null && !sameVm(manifest.identity, identity))
				throw new Error(
					`internal: a manifest of ${describeVm(manifest.vm, manifest.identity)} written for ${describeVm(manifest.vm, identity)}`,
				);
			written = {
				...manifest,
				identity,
				points: manifest.points.map(point => (point.identity === null ? {...point, identity} : point)),
			};
			if (manifest.identity === null && adopted.length > 0) {
				await this.journal(manifest.vm, {
					action: 'adopt',
					snapshot: adopted.join(', '),
					outcome: 'done',
					message: `${adopted.length} point${adopted.length === 1 ? '' : 's'} of an older snapdeck, with no identity, adopted as ${describeVm(manifest.vm, identity)}`,
				});
			}
		}
		await this.ownFolder(manifest.vm);
		const checked = Manifest.parse(written);
		await writeJsonAtomic(path.join(this.vmDir(manifest.vm), 'manifest.json'), checked);
		// The restore kit's view of it (VM/kit/), kept current with the manifest itself.
		await syncKit(this.vmDir(manifest.vm), checked);
	}

	/**
	 * The lock of a VM's backups, in the repository. A job that only reads (verify, listing) still
	 * runs where the repository cannot take even a lock file (full, read-only: verify and prune are
	 * the way out of that): it then locks on this host, in the temp folder, and `onFallback` says so.
	 */
	async lock(
		vm: string,
		command: string,
		options: {readOnly?: boolean; onFallback?: (why: string) => void} = {},
	): Promise<() => Promise<void>> {
		const what = `the backups of '${vm}' in ${this.root}`;
		try {
			await this.ownFolder(vm);
			return await acquireLock(
				path.join(await stateFolder(stateDir(this.vmDir(vm)), `the state folder of ${vm}'s backups`), 'lock'),
				what,
				command,
			);
		} catch (error) {
			if (!options.readOnly || !isUnwritable(error)) throw error;
			options.onFallback?.(
				`${errorMessage(error)}; locked on this host instead, and nothing is written to the repository`,
			);
			const dir = await stateFolder(
				path.join(os.tmpdir(), `snapdeck-locks-${process.getuid?.() ?? 0}`),
				'the folder of fallback locks',
			);
			return acquireLock(
				path.join(dir, `${createHash('sha256').update(this.vmDir(vm)).digest('hex').slice(0, 16)}.lock`),
				what,
				command,
			);
		}
	}

	/** Who holds the lock of the VM's backups now, if a live process does. */
	async lockHolder(vm: string) {
		return lockHolder(path.join(stateDir(this.vmDir(vm)), 'lock'));
	}

	/** Room the repository keeps for a prune on a full disk (its lock, pending record and manifest). */
	static readonly RESERVE_BYTES = 1024 * 1024;

	get reserveFile(): string {
		return path.join(this.root, '.snapdeck-reserve');
	}

	/**
	 * Keeps RESERVE_BYTES of the repository's file system in a file of its own, best effort: when
	 * the disk fills up, prune (the way out) gives it back and has room to record its work.
	 */
	async keepReserve(): Promise<void> {
		if (await fileExists(this.reserveFile)) return;
		const temp = `${this.reserveFile}.${process.pid}.tmp`;
		try {
			await writeFile(temp, Buffer.alloc(Repository.RESERVE_BYTES), {flag: 'wx', mode: 0o600});
			await fsyncFile(temp);
			await rename(temp, this.reserveFile);
		} catch {
			await rm(temp, {force: true});
		}
	}

	/** Frees the reserve; false when there was none. */
	async releaseReserve(): Promise<boolean> {
		if (!(await fileExists(this.reserveFile))) return false;
		await rm(this.reserveFile, {force: true});
		return true;
	}

	/**
	 * The VM's folder in the repository, created where missing, and readable by its owner alone
	 * (0700, also when an older snapdeck made it wider): the points copy disks that may be secret.
	 */
	async ownFolder(vm: string): Promise<string> {
		const dir = this.vmDir(vm);
		await makeDirs(dir, 'the backup repository');
		// A link in its place would have points written, files removed and modes changed somewhere else.
		await realFolder(dir, `the folder of ${vm}'s backups`);
		if (((await lstat(dir)).mode & 0o777) !== 0o700)
			await chmod(dir, 0o700).catch(error => {
				throw fileSystemError(error, 'make private', dir);
			});
		return dir;
	}

	operations(vm: string) {
		const binding = this.bindings.get(vm);
		return folderOperationStore(
			this.vmDir(vm),
			this.options.central === false ? undefined : (this.options.connection ?? `repository ${this.root}`),
			{
				repository: this.root,
				...(binding?.identity ? {identity: binding.identity} : {}),
				...(this.options.connection ? {connection: this.options.connection} : {}),
			},
		);
	}

	/** The record of the job that runs on the VM's backups (see PendingJob), beside their lock. */
	jobs(vm: string) {
		return folderJobStore(this.vmDir(vm));
	}

	/**
	 * What a killed job left in the VM's backups besides its work folders: points it recorded as
	 * partial, and point files no point names (unless a prune's own record will finish them).
	 */
	async recoverPartial(vm: string): Promise<string[]> {
		if ((await this.operations(vm).readPending()) !== null) return [];
		const manifest = await this.read(vm).catch(() => null);
		return manifest
			? (await cleanupRepository(this, manifest)).removed.map(file => path.join(this.vmDir(vm), file))
			: [];
	}

	journal(vm: string, entry: Omit<JournalEntry, 'time' | 'vm'>): Promise<void> {
		return this.operations(vm).appendJournal({time: new Date().toISOString(), vm, ...entry});
	}

	async fileSize(vm: string, file: string): Promise<number> {
		return (await stat(this.resolve(vm, file))).size;
	}
}
