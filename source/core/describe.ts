import {planFiles, type JournalRecord, type Plan, type PlanEvent} from './plan.js';
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
