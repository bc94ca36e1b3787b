import {rm} from 'node:fs/promises';
import path from 'node:path';
import type {JournalEntry, OperationStore, PendingOperation} from '../../core/plan.js';
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
