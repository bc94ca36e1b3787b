import {Box} from 'ink';
import {Text} from './text.js';
import {ageText} from '../../core/describe.js';
import {formatBytes} from '../../core/units.js';
import type {TreeView} from '../../service/ports.js';
import {fit, windowStart} from '../layout.js';
import {useTheme} from '../theme.js';

interface Props {
	readonly view: TreeView;
	readonly cursor: number;
	readonly height: number;
	readonly width: number;
	readonly now: Date;
	/** One line on the VM's scheduled tasks, when it has any. */
	readonly schedule?: string | null;
}

const HERE = ' ◀ you are here';
/** Kind, age and size: 'external  33d   4.3 MiB'. */
const META_WIDTH = 8 + 1 + 4 + 1 + 9;

/** A VM's snapshot tree: tree lines, kind, age, size, description, and where the VM is now. */
export function SnapshotTree({view, cursor, height, width, now, schedule}: Props) {
	const theme = useTheme();
	const rows = Math.max(1, height - 1 - (schedule ? 1 : 0));
	const start = windowStart(view.rows.length, cursor, rows);
	const nameWidth = Math.min(
		32,
		Math.max(8, ...view.rows.map(row => row.prefix.length + row.node.snapshot.name.length)),
	);
	// Where the columns and the marker after them do not fit (40 columns), the marker goes right
	// after the name, short, in a column of its own: what is cut at the end is then size, never it.
	const wide = width >= 2 + nameWidth + 2 + META_WIDTH + 2 + HERE.length;
	return (
		<Box flexDirection="column" height={height}>
			<Text bold wrap="truncate-end">
				{view.vm}: {view.snapshots.length} snapshot{view.snapshots.length === 1 ? '' : 's'}, current:{' '}
				{view.current ?? '(none)'}
				{view.problems.length > 0 ? (
					<Text color={theme.error}>{`  ! ${view.problems[0]}`}</Text>
				) : view.findings.length > 0 ? (
					<Text color={theme.warn}>{`  note: ${view.findings[0]}`}</Text>
				) : null}
			</Text>
			{schedule && (
				<Text color={theme.muted} wrap="truncate-end">
					{schedule}
				</Text>
			)}
			{view.rows.length === 0 && <Text color={theme.muted}>{'  no snapshots yet: press the take key'}</Text>}
			{view.rows.slice(start, start + rows).map((row, offset) => {
				const {snapshot} = row.node;
				const isSelected = start + offset === cursor;
				const kind = snapshot.memory ? 'int+mem' : snapshot.kind === 'external' ? 'external' : 'internal';
				const meta = `${kind.padEnd(8)} ${ageText(snapshot.createdAt, now).padStart(4)} ${formatBytes(view.sizes[snapshot.name] ?? 0).padStart(9)}`;
				const marker = (
					<Text bold color={isSelected ? undefined : theme.ok}>
						{row.node.isCurrent ? (wide ? HERE : ' ◀') : wide ? '' : '  '}
					</Text>
				);
				if (!wide) {
					return (
						<Text
							key={snapshot.name}
							inverse={isSelected}
							wrap="truncate-end"
							color={!isSelected && !row.node.onCurrentPath ? theme.muted : undefined}
						>
							{isSelected ? '▸ ' : '  '}
							{fit(`${row.prefix}${snapshot.name}`, nameWidth)}
							{marker} {meta}
						</Text>
					);
				}
				const description = fit(
					snapshot.description,
					Math.max(0, width - nameWidth - meta.length - (row.node.isCurrent ? HERE.length : 0) - 6),
				).trimEnd();
				return (
					<Text
						key={snapshot.name}
						inverse={isSelected}
						wrap="truncate-end"
						color={!isSelected && !row.node.onCurrentPath ? theme.muted : undefined}
					>
						{isSelected ? '▸ ' : '  '}
						{`${fit(`${row.prefix}${snapshot.name}`, nameWidth)}  ${meta}  ${description}`}
						{marker}
					</Text>
				);
			})}
		</Box>
	);
}
