import type {BackupPoint} from './backup-manifest.js';

/**
 * The newest complete point of a list (oldest first): the one the next incremental would build on.
 * Apart from core/backup-manifest.ts (whose schemas load zod) so that the UI's first frame does not wait for it.
 */
export const latestPoint = (points: readonly BackupPoint[]): BackupPoint | null =>
	points.filter(point => point.state === 'complete').at(-1) ?? null;
