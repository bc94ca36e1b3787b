import type {BackupPoint} from '../core/backup-manifest.js';
import type {Finding} from '../core/health.js';
import type {JournalRecord} from '../core/plan.js';
import {progressText} from '../core/describe.js';
import type {Job} from './hooks/use-jobs.js';
import {formatBytes} from '../core/units.js';

/** Everything the manifest says of a backup point, a line each, for its detail view. */
export function pointDetails(point: BackupPoint): string[] {
	const verified =
		point.verified === null
			? 'never'
			: `${point.verified.ok ? 'ok' : 'FAILED'} at ${point.verified.at}${point.verified.restoreTest ? ', with a restore test' : ''}: ${point.verified.message}`;
	return [
		`${point.kind}${point.parent === null ? '' : ` over ${point.parent}`}, taken ${point.createdAt}, ${point.state}`,
		...(point.reason ? [`a full because ${point.reason}`] : []),
		`clusters: ${point.compression === 'zstd' ? 'zstd-compressed' : 'plain'}`,
		`verified: ${verified}`,
		`boot test: ${point.boot === null ? 'never (snapdeck verify VM --boot)' : `${point.boot.ok ? 'booted' : 'DID NOT BOOT'} at ${point.boot.at}, ${point.boot.message}; console log ${point.boot.console}${point.boot.screenshot ? `, screenshot ${point.boot.screenshot}` : ''} (in the VM's folder of the repository)`}`,
		...point.files.map(
			file =>
				`${file.disk}: ${file.file}, ${formatBytes(file.size)} (disk of ${formatBytes(file.virtualSize)}), backed by ${file.backing ?? 'nothing (a full)'}, sha256 ${file.sha256}`,
		),
		...(point.archive === null
			? []
			: [
					`whole-VM archive: ${point.archive.length} images (${point.archive.map(image => image.name).join(', ')}), ${formatBytes(point.archive.reduce((sum, image) => sum + image.size, 0))}`,
				]),
	];
}

/** A journal record whole, for its detail view. */
export function journalDetails(record: JournalRecord): string[] {
	return [
		`${record.time}: ${[record.action, record.snapshot].filter(Boolean).join(' ')} of ${record.vm}, ${record.outcome}${record.durationMs === undefined ? '' : ` after ${(record.durationMs / 1000).toFixed(1)} s`}`,
		`by ${record.user} on ${record.host}, ${record.connection}`,
		...(record.summary ? [`plan: ${record.summary}`] : []),
		...(record.steps ?? []).map((step, index) => `  ${index + 1}. ${step}`),
		...(record.message ? [`${record.outcome === 'failed' ? 'why' : 'result'}: ${record.message}`] : []),
	];
}

/** A health finding whole, with the key that fixes it where one does (`fixKey`: how to press it, from the keymap). */
export function findingDetails(finding: Finding, fixKey: string | null): string[] {
	return [
		`${finding.severity === 'critical' ? 'critical' : 'warning'} on ${finding.vm} (rule ${finding.rule})`,
		finding.message,
		finding.fix
			? `fix: ${fixKey ? `${fixKey} (${finding.fix})` : finding.fix}${finding.fix === 'recover' ? `: snapdeck recover ${finding.vm}` : ''}`
			: 'fix: none from here; the message says what to do',
		// What the rule measured, one fact a line (as --json has them).
		...Object.entries(finding.facts ?? {}).map(
			([name, value]) => `${name}: ${Array.isArray(value) ? value.join(', ') : String(value)}`,
		),
	];
}

/** A job whole: what it is, how it stands or ended, its progress and its log. */
export function jobDetails(job: Job): string[] {
	return [
		`${job.status}${job.cancelAsked && job.endedAt === null ? ', cancel asked' : ''}: started ${job.startedAt.slice(0, 19).replace('T', ' ')}${job.endedAt ? `, ended ${job.endedAt.slice(0, 19).replace('T', ' ')} after ${((Date.parse(job.endedAt) - Date.parse(job.startedAt)) / 1000).toFixed(1)} s` : ''}`,
		...(job.step && job.endedAt === null
			? [`step ${job.step.index + 1} of ${job.step.total}: ${job.step.summary}`]
			: []),
		...(job.progress && job.endedAt === null ? [`progress: ${progressText(job.progress)}`] : []),
		...(job.message ? [`${job.status === 'failed' ? 'why' : 'result'}: ${job.message}`] : []),
		'log:',
		...job.log.map(line => `  ${line}`),
	];
}
