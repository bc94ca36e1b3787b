import {Box} from 'ink';
import {Text} from './text.js';
import type {BackupPoint} from '../../core/backup-manifest.js';
import {ageText} from '../../core/describe.js';
import {formatBytes} from '../../core/units.js';
import {fit, windowStart} from '../layout.js';
import {useTheme} from '../theme.js';

interface Props {
	readonly vm: string;
	/** Newest first. */
	readonly points: readonly BackupPoint[];
	readonly cursor: number;
	readonly height: number;
	readonly width: number;
	readonly now: Date;
}

/** A VM's backup points, newest first, with kind, age, size and the last verification. */
export function BackupList({vm, points, cursor, height, width, now}: Props) {
	const theme = useTheme();
	const rows = Math.max(1, height - 2);
	const start = windowStart(points.length, cursor, rows);
	const line = width >= FULL_WIDTH ? fullLine(width) : narrowLine(width);
	return (
		<Box flexDirection="column" height={height}>
			<Text bold wrap="truncate-end">
				{vm}: {points.length} backup point{points.length === 1 ? '' : 's'}
			</Text>
			<Text bold wrap="truncate-end">{`  ${line('ID', 'KIND', 'AGE', 'SIZE', 'VERIFIED')}`}</Text>
			{points.length === 0 && <Text color={theme.muted}>{'  no backups yet: press the backup key'}</Text>}
			{points.slice(start, start + rows).map((point, offset) => {
				const isSelected = start + offset === cursor;
				const verified = verifiedText(point, now, width >= FULL_WIDTH);
				const color =
					point.verified && !point.verified.ok ? theme.error : point.state !== 'complete' ? theme.warn : undefined;
				return (
					<Text key={point.id} inverse={isSelected} color={isSelected ? undefined : color} wrap="truncate-end">
						{isSelected ? '▸ ' : '  '}
						{line(
							point.id,
							point.kind,
							ageText(point.createdAt, now),
							formatBytes(point.files.reduce((sum, file) => sum + file.size, 0)),
							verified,
						)}
					</Text>
				);
			})}
		</Box>
	);
}

/** The width every column takes (ID, KIND, AGE, SIZE, VERIFIED): below it, the narrow line. */
const FULL_WIDTH = 57;

type Line = (id: string, kind: string, age: string, size: string, verified: string) => string;

const fullLine =
	(width: number): Line =>
	(id, kind, age, size, verified) =>
		`${fit(id, 19)} ${fit(kind, 11)} ${age.padStart(5)} ${size.padStart(9)}  ${fit(verified, Math.max(6, width - 51))}`;

/** At 40 columns (a phone): whether each point is verified stays in view; its size is what goes (Enter shows it). */
const narrowLine =
	(width: number): Line =>
	(id, kind, age, _size, verified) =>
		`${fit(id, 16)} ${fit(kind === 'incremental' ? 'incr' : kind, 4)} ${age.padStart(4)} ${fit(verified, Math.max(6, width - 29))}`;

function verifiedText(point: BackupPoint, now: Date, full: boolean): string {
	if (point.state !== 'complete') return full ? 'partial (interrupted)' : 'partial';
	if (!point.verified) return 'never';
	const when = ageText(point.verified.at, now);
	const outcome = point.verified.ok ? 'ok' : 'FAILED';
	if (full) return `${outcome} ${when} ago${point.verified.restoreTest ? ', restore-tested' : ''}`;
	// Narrow: a failure is said alone, so that it is never cut.
	return point.verified.ok ? `ok ${when}` : 'FAILED';
}
