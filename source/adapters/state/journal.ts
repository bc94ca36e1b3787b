import {readFile} from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import {userDir} from '../../core/user-dirs.js';
import type {JournalEntry, JournalRecord} from '../../core/plan.js';
import {appendStateFile, makeDirs} from '../safe-fs.js';

export type {JournalRecord};

/** Every change snapdeck makes, from any VM and connection: one file, one JSON line each. */
export const journalFile = () =>
	process.env['SNAPDECK_JOURNAL'] ?? path.join(userDir('data', process.env, os.homedir()), 'journal.jsonl');

/** Appends one line and fsyncs it: a crash right after a change still finds it recorded. */
export async function appendJournalFile(file: string, line: object): Promise<void> {
	await makeDirs(path.dirname(file), "the journal's folder");
	await appendStateFile(file, `${JSON.stringify(line)}\n`);
}

export const recordChange = (connection: string, entry: JournalEntry, repository?: string) =>
	appendJournalFile(journalFile(), {
		...entry,
		user: os.userInfo().username,
		host: os.hostname(),
		connection,
		...(repository === undefined ? {} : {repository}),
	} satisfies JournalRecord);

/** The journal's records, oldest first; a torn last line (a crash mid-write) is skipped. */
export async function readJournal(file = journalFile()): Promise<JournalRecord[]> {
	const text = await readFile(file, 'utf8').catch((error: NodeJS.ErrnoException) => {
		if (error.code === 'ENOENT') return '';
		throw error;
	});
	return text.split('\n').flatMap(line => {
		try {
			return line.trim() ? [JSON.parse(line) as JournalRecord] : [];
		} catch {
			return [];
		}
	});
}
