import {rm} from 'node:fs/promises';
import path from 'node:path';
import {z} from 'zod';
import {SnapdeckError} from '../../core/errors.js';
import type {JobStore, JournalEntry, OperationStore, PendingJob, PendingOperation} from '../../core/plan.js';
import {writeJsonAtomic} from './atomic-file.js';
import {appendJournalFile, recordChange} from './journal.js';
import {readStateFile, stateFolder} from '../safe-fs.js';

/** `.snapdeck/` inside a VM's folder: its lock, its pending operation and its journal. */
export const stateDir = (folder: string) => path.join(folder, '.snapdeck');

/**
 * The VM's own journal (`.snapdeck/journal.jsonl`) and, with `connection`, the central journal that
 * `snapdeck log` reads; both appended with an fsync.
 */
export function folderOperationStore(folder: string, connection?: string): OperationStore {
	const dir = stateDir(folder);
	const pendingFile = path.join(dir, 'pending.json');
	return {
		async readPending() {
			const text = await readStateFile(pendingFile);
			return text === null ? null : (JSON.parse(text) as PendingOperation);
		},
		async writePending(pending) {
			await stateFolder(dir, 'the state folder');
			await writeJsonAtomic(pendingFile, pending);
		},
		async clearPending() {
			await rm(pendingFile, {force: true});
		},
		async appendJournal(entry: JournalEntry) {
			await appendJournalFile(path.join(dir, 'journal.jsonl'), entry);
			if (connection !== undefined) await recordChange(connection, entry);
		},
	};
}

/** What a job record may hold: read back after a crash, it is checked like any other file. */
const PendingJobFile = z.object({
	action: z.string().max(40),
	command: z.string().max(4096),
	subject: z.string().max(4096).nullable(),
	startedAt: z.string().max(64),
	pid: z.number().int().positive(),
	leaves: z.array(z.string().min(1).max(4096)).max(1000),
	halfDone: z.string().max(4096).nullable(),
});

/** `.snapdeck/job.json` inside a folder: the record of the job that runs there (see PendingJob). */
export function folderJobStore(folder: string): JobStore {
	const dir = stateDir(folder);
	const file = path.join(dir, 'job.json');
	return {
		async read() {
			const text = await readStateFile(file);
			if (text === null) return null;
			let parsed: unknown;
			try {
				parsed = JSON.parse(text);
			} catch {
				parsed = null;
			}
			const checked = PendingJobFile.safeParse(parsed);
			if (!checked.success) throw new SnapdeckError('failed', `${file} is not a job record snapdeck wrote`, `look at it, and remove it if no snapdeck job runs there`, 'damaged');
			return checked.data as PendingJob;
		},
		async write(job) {
			await stateFolder(dir, 'the state folder');
			await writeJsonAtomic(file, job);
		},
		async clear() {
			await rm(file, {force: true});
		},
	};
}
