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
	/** The key that takes a snapshot, as the help shows it: named where the tree is empty. */
	readonly takeKey: string;
}

const HERE = ' ◀ you are here';
/** Kind, age and size: 'external  33d   4.3 MiB'. */
const META_WIDTH = 8 + 1 + 4 + 1 + 9;
/** The same where columns are few (40): 'ext  33d   4.3 MiB'. */
const NARROW_META_WIDTH = 3 + 1 + 4 + 1 + 9;
const NARROW_KIND = {external: 'ext', internal: 'int', 'int+mem': 'i+m'} as const;

/** A VM's snapshot tree: tree lines, kind, age, size, description, and where the VM is now. */
export function SnapshotTree({view, cursor, height, width, now, schedule, takeKey}: Props) {
	const theme = useTheme();
	const rows = Math.max(1, height - 1 - (schedule ? 1 : 0));
	const start = windowStart(view.rows.length, cursor, rows);
	const longest = Math.max(8, ...view.rows.map(row => row.prefix.length + row.node.snapshot.name.length));
	// Where the columns and the marker after them do not fit (40 columns), the marker goes right
	// after the name, short, in a column of its own, and the kind is shortened; where the names are
	// long, the size column goes before any name is cut. A column is shown whole or not at all.
	const wide = width >= 2 + Math.min(32, longest) + 2 + META_WIDTH + 2 + HERE.length;
	const sized = wide || width >= 2 + longest + 2 + 1 + NARROW_META_WIDTH;
	const nameWidth = wide
		? Math.min(32, longest)
		: Math.max(8, Math.min(longest, width - 2 - 2 - 1 - (sized ? NARROW_META_WIDTH : NARROW_META_WIDTH - 10)));
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
			{view.rows.length === 0 && <Text color={theme.muted}>{`  no snapshots yet: ${takeKey} takes one`}</Text>}
			{view.rows.slice(start, start + rows).map((row, offset) => {
				const {snapshot} = row.node;
				const isSelected = start + offset === cursor;
				const kind = snapshot.memory ? 'int+mem' : snapshot.kind === 'external' ? 'external' : 'internal';
				const size = sized ? ` ${formatBytes(view.sizes[snapshot.name] ?? 0).padStart(9)}` : '';
				const meta = `${wide ? kind.padEnd(8) : NARROW_KIND[kind]} ${ageText(snapshot.createdAt, now).padStart(4)}${size}`;
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
