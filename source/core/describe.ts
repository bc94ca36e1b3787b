import {planFiles, type ActionKind, type JournalRecord, type Plan, type PlanEvent} from './plan.js';
import {formatBytes, formatDuration} from './units.js';

/** A plan as the lines an operator reads before saying yes: steps, files, what is lost, cost. */
export function planLines(plan: Plan): string[] {
	const lines = [`Plan: ${plan.summary}`];
	plan.steps.forEach((step, index) => {
		const cost = step.bytes > 0 ? `  (copies up to ${formatBytes(step.bytes)})` : '';
		lines.push(`  ${index + 1}. ${step.summary}${cost}`);
	});
	const files = planFiles(plan);
	const list = (label: string, names: string[]) => {
		if (names.length > 0) lines.push(`${label}: ${names.join(', ')}`);
	};
	list('Creates', files.creates);
	list('Writes', files.writes);
	list('Deletes', files.deletes);
	for (const discard of plan.discards) lines.push(`Discards: ${discard}`);
	for (const warning of plan.warnings) lines.push(`Note: ${warning}`);
	lines.push(`Copies up to ${formatBytes(plan.bytes)}; needs ${formatBytes(plan.space)} free.`);
	return lines;
}

/** "1 file", "10 files". */
export const counted = (count: number, one: string, many = `${one}s`) => `${count} ${count === 1 ? one : many}`;

/**
 * What the Discards lines of a plan of each kind name, counted: one line per removed point (a
 * prune, core/prune-plan.ts), one for the snapshot merged away, one per image whose data since a
 * snapshot a revert drops (core/planner.ts).
 */
const DISCARDED: Record<ActionKind, (count: number) => string> = {
	take: count => counted(count, 'loss', 'losses'),
	revert: count => `data written to ${counted(count, 'image')}`,
	merge: count => counted(count, 'snapshot'),
	prune: count => counted(count, 'backup point'),
};

/** A plan's Deletes or Discards lines in a few words: how many of what ("10 files", "5 backup points"), and the disks those files are of. */
export interface LossCount {
	readonly label: 'Deletes' | 'Discards';
	readonly what: string;
	/** In the plan's order; none where what is lost is not a disk's file. */
	readonly disks: readonly string[];
}

/** What a plan loses, a kind at a time, counted from the data its Deletes and Discards lines are made of. */
export function planLosses(plan: Plan): LossCount[] {
	const losses: LossCount[] = [];
	const deletes = planFiles(plan).deletes;
	if (deletes.length > 0) {
		const disks = plan.steps.flatMap(step => (step.deletes.length > 0 && 'disk' in step ? [step.disk] : []));
		losses.push({label: 'Deletes', what: counted(deletes.length, 'file'), disks: [...new Set(disks)]});
	}
	if (plan.discards.length > 0)
		losses.push({label: 'Discards', what: DISCARDED[plan.action](plan.discards.length), disks: []});
	return losses;
}

export type ProgressEvent = Extract<PlanEvent, {type: 'progress'}>;

/** "45% 12 MiB/27 MiB at 30 MiB/s, ETA 1s". */
export function progressText(event: ProgressEvent): string {
	const percent = `${(event.fraction * 100).toFixed(0).padStart(3)}%`;
	const eta = event.eta === null ? '' : `, ETA ${Math.ceil(event.eta)}s`;
	return `${percent} ${formatBytes(event.bytesDone)}/${formatBytes(event.bytesTotal)} at ${formatBytes(event.rate)}/s${eta}`;
}

/**
 * "3m", "5h", "24d": how long ago an ISO time was, in whole units as health counts them
 * (formatDuration): a snapshot that health calls 32d old is not 33d in the tree beside it.
 */
export function ageText(iso: string, now: Date): string {
	return formatDuration(Math.max(0, now.getTime() - Date.parse(iso)));
}

/** One journal record as a line: when, which VM, what, how it ended (and how long it took), why. */
export function journalLine(record: JournalRecord): string {
	const took = record.durationMs === undefined ? '' : ` (${(record.durationMs / 1000).toFixed(1)} s)`;
	const words = record.outcome === 'started' ? (record.summary ?? '') : (record.message ?? '');
	return `${record.time.slice(0, 19).replace('T', ' ')}  ${record.vm}  ${[record.action, record.snapshot].filter(Boolean).join(' ')}  ${record.outcome}${took}${words ? `: ${words}` : ''}`;
}
