import type {BackupPoint} from '../core/backup.js';
import type {JournalRecord} from '../core/plan.js';
import {formatBytes} from '../core/units.js';

/** Everything the manifest says of a backup point, a line each, for its detail view. */
export function pointDetails(point: BackupPoint): string[] {
	const verified = point.verified === null ? 'never' : `${point.verified.ok ? 'ok' : 'FAILED'} at ${point.verified.at}${point.verified.restoreTest ? ', with a restore test' : ''}: ${point.verified.message}`;
	return [
		`${point.kind}${point.parent === null ? '' : ` over ${point.parent}`}, taken ${point.createdAt}, ${point.state}`,
		...(point.reason ? [`a full because ${point.reason}`] : []),
		`clusters: ${point.compression === 'zstd' ? 'zstd-compressed' : 'plain'}`,
		`verified: ${verified}`,
		...point.files.map(file => `${file.disk}: ${file.file}, ${formatBytes(file.size)} (disk of ${formatBytes(file.virtualSize)}), backed by ${file.backing ?? 'nothing (a full)'}, sha256 ${file.sha256}`),
		...(point.archive === null ? [] : [`whole-VM archive: ${point.archive.length} images (${point.archive.map(image => image.name).join(', ')}), ${formatBytes(point.archive.reduce((sum, image) => sum + image.size, 0))}`]),
	];
}

/** A journal record whole, for its detail view. */
export function journalDetails(record: JournalRecord): string[] {
	return [
		`${record.time}: ${record.action} ${record.snapshot} of ${record.vm}, ${record.outcome}${record.durationMs === undefined ? '' : ` after ${(record.durationMs / 1000).toFixed(1)} s`}`,
		`by ${record.user} on ${record.host}, ${record.connection}`,
		...(record.summary ? [`plan: ${record.summary}`] : []),
		...(record.steps ?? []).map((step, index) => `  ${index + 1}. ${step}`),
		...(record.message ? [`${record.outcome === 'failed' ? 'why' : 'result'}: ${record.message}`] : []),
	];
}
