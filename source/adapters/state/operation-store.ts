import {readFileSync} from 'node:fs';
import {readdir, rm} from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import {z} from 'zod';
import type {JobStore, JournalEntry, OperationStore, PendingJob, StoredJob} from '../../core/plan.js';
import {processAlive} from '../file-checks.js';
import {NAME_PATTERN} from '../../core/names.js';
import type {VmIdentity} from '../../core/identity.js';
import {errorMessage, SnapdeckError} from '../../core/errors.js';
import {parsePendingOperation} from '../../core/pending-record.js';
import {processStartTime} from './lock.js';
import {WORK_FOLDER} from './work-folder.js';
import {writeJsonAtomic} from './atomic-file.js';
import {appendJournalFile, recordChange} from './journal.js';
import {readStateFile, stateFolder} from '../safe-fs.js';

/** `.snapdeck/` inside a VM's folder: its lock, its pending operation and its journal. */
export const stateDir = (folder: string) => path.join(folder, '.snapdeck');

/** The interrupted operation `pending.json` records, checked like any file from outside; null where there is none. */
async function readPendingFile(pendingFile: string) {
	const text = await readStateFile(pendingFile);
	if (text === null) return null;
	let json: unknown;
	try {
		json = JSON.parse(text);
	} catch (error) {
		throw new SnapdeckError(
			'failed',
			`${pendingFile} is damaged (${errorMessage(error)}): the interrupted operation it recorded cannot be read, and nothing was done`,
			`look at the VM's images with 'snapdeck tree', then remove ${pendingFile} by hand`,
			'damaged',
		);
	}
	const read = parsePendingOperation(json);
	if ('problem' in read)
		throw new SnapdeckError(
			'failed',
			`${pendingFile} is not a record snapdeck wrote (${read.problem}): nothing in it was acted on`,
			`look at the VM's images with 'snapdeck tree', then remove ${pendingFile} by hand`,
			'damaged',
		);
	return read.pending;
}

/** `repositories.json` in a state folder: the repositories the VM was backed up to, by tag; what is unreadable there is forgotten. */
function repositoryTagStore(dir: string): NonNullable<OperationStore['repositoryTags']> {
	const read = async () => {
		const text = await readStateFile(path.join(dir, 'repositories.json')).catch(() => null);
		const parsed = z
			.record(
				z.string().regex(/^[0-9a-f]{8}$/),
				z.string().refine(root => path.isAbsolute(root)),
			)
			.safeParse(
				(() => {
					try {
						return text === null ? {} : JSON.parse(text);
					} catch {
						return {};
					}
				})(),
			);
		return parsed.success ? parsed.data : {};
	};
	return {
		read,
		remember: async (tag, root) => {
			const known = await read();
			if (known[tag] === root) return;
			await stateFolder(dir, 'the state folder');
			await writeJsonAtomic(path.join(dir, 'repositories.json'), {...known, [tag]: root});
		},
	};
}

/**
 * The VM's own journal (`.snapdeck/journal.jsonl`) and, with `connection`, the central journal that
 * `snapdeck log` reads; both appended with an fsync. Each line of the central journal names the
 * connection, and with `extra` the repository and the VM's identity.
 */
export function folderOperationStore(
	folder: string,
	connection?: string,
	extra: {repository?: string; identity?: VmIdentity; connection?: string} = {},
): OperationStore {
	const dir = stateDir(folder);
	const pendingFile = path.join(dir, 'pending.json');
	return {
		readPending: () => readPendingFile(pendingFile),
		async writePending(pending) {
			await stateFolder(dir, 'the state folder');
			await writeJsonAtomic(pendingFile, pending);
		},
		async clearPending() {
			await rm(pendingFile, {force: true});
		},
		async appendJournal(entry: JournalEntry) {
			const line = {...entry, ...(extra.identity ? {identity: extra.identity} : {})};
			// The VM's own journal says who and where too: for a repository named on the command line it is the only one.
			const own = {
				...line,
				user: os.userInfo().username,
				host: os.hostname(),
				...((extra.connection ?? connection) === undefined ? {} : {connection: extra.connection ?? connection}),
				...(extra.repository ? {repository: extra.repository} : {}),
			};
			await appendJournalFile(path.join(dir, 'journal.jsonl'), own);
			if (connection !== undefined) await recordChange(connection, line, extra.repository);
		},
		repositoryTags: repositoryTagStore(dir),
	};
}

const Token = z.string().regex(/^[0-9a-f]{16}$/);
const AbsolutePath = z
	.string()
	.min(1)
	.max(4096)
	.refine(text => path.isAbsolute(text) && !text.includes('\0'), 'an absolute path');

/** What a job record may hold: read back after a crash, it is checked like any other file from outside. */
const PendingJobFile = z
	.strictObject({
		version: z.literal(2),
		token: Token,
		action: z.enum([
			'take',
			'revert',
			'merge',
			'prune',
			'recover',
			'backup',
			'verify',
			'restore',
			'schedule',
			'checkpoints',
			'copy',
			'boot-test',
			'start',
			'stop',
			'extract',
			'adopt',
		]),
		command: z.string().max(4096),
		subject: z.string().max(4096).nullable(),
		startedAt: z.string().max(64),
		pid: z.number().int().positive(),
		host: z.string().min(1).max(255),
		started: z.number().int().nonnegative().nullable(),
		debris: z
			.array(
				z.discriminatedUnion('kind', [
					z.strictObject({kind: z.literal('folder'), parent: AbsolutePath, name: z.string().regex(WORK_FOLDER)}),
					z.strictObject({
						kind: z.literal('throwaway'),
						connection: z.string().min(1).max(4096),
						name: z.string().min(1).max(255),
					}),
					// Only an instant restore's mark: REPO/VM/.snapdeck/instant/NAME.json of that very VM.
					z
						.strictObject({
							kind: z.literal('instant'),
							connection: z.string().min(1).max(4096),
							vm: z.string().regex(NAME_PATTERN),
							marker: AbsolutePath,
						})
						.refine(
							debris =>
								path.basename(debris.marker) === `${debris.vm}.json` &&
								path.basename(path.dirname(debris.marker)) === 'instant' &&
								path.basename(path.dirname(path.dirname(debris.marker))) === '.snapdeck',
							"an instant restore's mark is REPO/VM/.snapdeck/instant/NAME.json",
						),
				]),
			)
			.max(1000),
		halfDone: z.string().max(4096).nullable(),
	})
	.superRefine((job, context) => {
		// Each work folder it names carries its own token: a record cannot name another job's (or anything else).
		for (const debris of job.debris) {
			if (debris.kind === 'folder' && WORK_FOLDER.exec(debris.name)?.[1] !== job.token)
				context.addIssue({
					code: 'custom',
					message: `${debris.name} does not carry the record's token`,
					path: ['debris'],
				});
		}
	});

let self: {host: string; started: number | null} | undefined;
/** This process, as its job records name it: its host and its start time. */
export function thisProcess(): {host: string; started: number | null} {
	if (!self) {
		let started: number | null = null;
		try {
			const stat = readFileSync('/proc/self/stat', 'utf8');
			const value = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19]);
			started = Number.isSafeInteger(value) ? value : null;
		} catch {
			// No /proc: the pid alone says.
		}
		self = {host: os.hostname(), started};
	}
	return self;
}

/** Whether the process a record names is gone: on this host, its pid ended (or is another process now); another host's is never judged gone. */
async function recordLeft(job: PendingJob): Promise<boolean> {
	if (job.host !== os.hostname()) return false;
	if (!(await processAlive(job.pid))) return true;
	return job.started !== null && (await processStartTime(job.pid)) !== job.started;
}

/**
 * `.snapdeck/jobs/TOKEN.json` inside a folder: a record per job that runs on what the folder holds
 * (a VM's backups), see PendingJob. A record an older snapdeck wrote (`.snapdeck/job.json`, whose
 * leftovers carry no token) is reported, never acted on.
 */
export function folderJobStore(folder: string): JobStore {
	const dir = path.join(stateDir(folder), 'jobs');
	const legacy = path.join(stateDir(folder), 'job.json');
	const fileOf = (token: string) => {
		if (!Token.safeParse(token).success) throw new Error(`internal: job token '${token}'`);
		return path.join(dir, `${token}.json`);
	};
	return {
		async list() {
			const stored: StoredJob[] = [];
			if ((await readStateFile(legacy).catch(() => null)) !== null) {
				stored.push({
					damaged: legacy,
					problem: 'a record of an older snapdeck, whose leftovers cannot be told apart from anything else',
				});
			}
			const names = await readdir(dir).catch(() => [] as string[]);
			for (const name of names.filter(entry => !entry.startsWith('.')).sort()) {
				const file = path.join(dir, name);
				const text = await readStateFile(file).catch(() => null);
				let parsed: unknown = null;
				try {
					parsed = text === null ? null : JSON.parse(text);
				} catch {
					// judged below
				}
				const checked = PendingJobFile.safeParse(parsed);
				if (!checked.success || name !== `${checked.data.token}.json`) {
					stored.push({
						damaged: file,
						problem: checked.success
							? 'its name is not its token'
							: (z.prettifyError(checked.error).split('\n')[0] ?? 'unreadable'),
					});
					continue;
				}
				const record = checked.data as PendingJob;
				stored.push({record, left: await recordLeft(record)});
			}
			return stored;
		},
		async write(job) {
			await stateFolder(stateDir(folder), 'the state folder');
			await stateFolder(dir, 'the folder of job records');
			await writeJsonAtomic(fileOf(job.token), job);
		},
		async clear(token) {
			await rm(fileOf(token), {force: true});
		},
	};
}
