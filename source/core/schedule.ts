import {Cron} from 'croner';

/**
 * Whether a scheduled task is due: its most recent occurrence at or before `now` came after the
 * last run. Occurrences missed while nothing ran collapse into one run; a task that never ran is
 * due at once.
 */
export function isDue(cron: string, lastRun: string | null, now: Date): boolean {
	const [previous] = new Cron(cron, {paused: true}).previousRuns(1, new Date(now.getTime() + 1));
	if (!previous) return false;
	return lastRun === null || Date.parse(lastRun) < previous.getTime();
}

/** The next occurrence after `now`, or null. */
export const nextRun = (cron: string, now: Date): Date | null => new Cron(cron, {paused: true}).nextRun(now);

/** The name of a scheduled snapshot: "auto-" and the UTC time, which sorts as the time does. */
export const scheduledSnapshotName = (now: Date) =>
	`auto-${now.toISOString().slice(0, 19).replaceAll('-', '').replaceAll(':', '').replace('T', '-')}`;
export const isScheduledSnapshot = (name: string) => /^auto-\d{8}-\d{6}$/.test(name);
