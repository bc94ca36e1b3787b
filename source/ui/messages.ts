import {isActive, type Job} from './hooks/use-jobs.js';
import {fit, wrapLines} from './layout.js';

/** How long an ended job's message stays under the view (a failure longer); the jobs screen keeps them all. */
export const MESSAGE_TTL_MS = {ended: 15_000, failed: 60_000} as const;
export type MessageTtl = {readonly ended: number; readonly failed: number};

/** The rows the messages may take: two at 40x12, five at 80x24 (a failure and its hint whole), never more than six. */
export const messageCap = (frameRows: number) => Math.max(2, Math.min(6, Math.floor(frameRows / 4)));

/** A job to show, with how many ended the same way (same title, outcome and message) since the messages were cleared. */
export interface MessageEntry {
	readonly job: Job;
	readonly count: number;
}

const endedAt = (job: Job) => (job.endedAt === null ? 0 : Date.parse(job.endedAt));
const expiresAt = (job: Job, ttl: MessageTtl) => endedAt(job) + (job.status === 'failed' ? ttl.failed : ttl.ended);

/**
 * What the messages show at `now`: the jobs at work, newest first, then the ones that ended since
 * `clearedAt` and not longer ago than their time to live, newest first, repeats merged into one.
 */
export function messageEntries(jobs: readonly Job[], now: number, clearedAt: number, ttl: MessageTtl): MessageEntry[] {
	const active = jobs
		.filter(isActive)
		.sort((a, b) => b.id - a.id)
		.map(job => ({job, count: 1}));
	const ended = jobs
		.filter(job => !isActive(job) && endedAt(job) > clearedAt && expiresAt(job, ttl) > now)
		.sort((a, b) => endedAt(b) - endedAt(a) || b.id - a.id);
	const merged = new Map<string, MessageEntry>();
	for (const job of ended) {
		const key = `${job.status}\n${job.title}\n${job.message}`;
		const seen = merged.get(key);
		merged.set(key, seen ? {...seen, count: seen.count + 1} : {job, count: 1});
	}
	return [...active, ...merged.values()];
}

/** When the next message shown goes (null: none will on its own). */
export function nextExpiry(jobs: readonly Job[], now: number, clearedAt: number, ttl: MessageTtl): number | null {
	const times = jobs
		.filter(job => !isActive(job) && endedAt(job) > clearedAt && expiresAt(job, ttl) > now)
		.map(job => expiresAt(job, ttl));
	return times.length === 0 ? null : Math.min(...times);
}

export type MessageRow =
	| {readonly kind: 'head'; readonly entry: MessageEntry}
	| {readonly kind: 'progress'; readonly entry: MessageEntry}
	| {readonly kind: 'detail'; readonly entry: MessageEntry; readonly text: string}
	| {readonly kind: 'more'; readonly text: string};

/**
 * The rows of the messages in at most `cap` rows of `width` columns: a row a job first (the newest
 * first), then, as far as room is left, its progress bar, or its result or why it failed wrapped
 * whole; what does not fit is on the jobs screen (`jobsKey`), and says so.
 */
export function messageRows(
	entries: readonly MessageEntry[],
	width: number,
	cap: number,
	jobsKey: string,
): MessageRow[] {
	const more = entries.length > cap ? entries.length - (cap - 1) : 0;
	const shown = more > 0 ? entries.slice(0, cap - 1) : entries;
	let left = cap - shown.length - (more > 0 ? 1 : 0);
	const rows = shown.flatMap((entry): MessageRow[] => {
		const {job} = entry;
		if (job.status === 'running' && job.progress) {
			if (left === 0) return [{kind: 'head', entry}];
			left--;
			return [
				{kind: 'head', entry},
				{kind: 'progress', entry},
			];
		}
		if (!job.message || job.status === 'declined' || isActive(job) || left === 0) return [{kind: 'head', entry}];
		const all = wrapLines(job.message, width - 2, Number.MAX_SAFE_INTEGER);
		const lines =
			all.length <= left ? all : [...all.slice(0, left - 1), whole(all.slice(left - 1).join(' '), width - 2, jobsKey)];
		left -= lines.length;
		return [{kind: 'head', entry}, ...lines.map(text => ({kind: 'detail' as const, entry, text}))];
	});
	return more > 0
		? [...rows, {kind: 'more', text: fit(`+${more} more: ${jobsKey} shows every job`, width).trimEnd()}]
		: rows;
}

/** The last row of a message cut short, saying where it is whole. */
const whole = (text: string, width: number, jobsKey: string) => {
	const hint = ` (${jobsKey}: whole)`;
	return `${fit(text, Math.max(1, width - hint.length)).trimEnd()}${hint}`;
};
