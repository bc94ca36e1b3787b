import {Box} from 'ink';
import {Text} from '../components/text.js';
import {formatBytes} from '../../core/units.js';
import type {Restores} from '../../service/ports.js';
import {useFileListing} from '../hooks/use-file-listing.js';
import type {Loaded} from '../hooks/use-inventory.js';
import {fit, windowStart} from '../layout.js';
import {useTheme} from '../theme.js';
import {useBinding, useCursor, type Screen, type ScreenContext, type ScreenProps} from './screen.js';

interface Row {
	readonly name: string;
	/** Where Enter goes: a folder's path (DEVICE:/path where the point has several filesystems); null for a file. */
	readonly into: string | null;
	readonly text: string;
}

const parentOf = (where: string) => {
	const [device, file] = where.includes(':')
		? [where.slice(0, where.indexOf(':')), where.slice(where.indexOf(':') + 1)]
		: [null, where];
	const up = file.replace(/\/[^/]+\/?$/, '') || '/';
	return file === '/' ? null : device ? `${device}:${up}` : up;
};
const joined = (where: string, name: string) => `${where.replace(/\/$/, '')}/${name}`;

type Listing = Awaited<ReturnType<Restores['listFiles']>>;

/** The rows of a listing: the point's filesystems, or the entries of the folder `where`. */
const rowsOf = (listing: Listing | null, where: string | null): Row[] =>
	listing === null
		? []
		: listing.kind === 'filesystems'
			? listing.filesystems.map(fs => ({name: fs.device, into: `${fs.device}:/`, text: `${fs.device}  ${fs.type}`}))
			: listing.entries.map(entry => ({
					name: entry.escapedName,
					into: entry.type === 'directory' ? joined(where ?? '/', entry.escapedName) : null,
					// A guest's names may hold line breaks, escape sequences and bytes that are not UTF-8: escaped, as paths take them.
					text: `${entry.mode}  ${(entry.device ?? formatBytes(entry.size)).padStart(9)}  ${entry.escapedName}${entry.type === 'directory' ? '/' : ''}${entry.escapedTarget === undefined ? '' : ` -> ${entry.escapedTarget}`}`,
				}));

/**
 * Copies `file` (a file or a folder) of the point out, as a job, into ~/snapdeck-extract. The
 * browsing appliance is stopped first (`lend`): the job locks the VM's backups itself, and a
 * folder opened meanwhile is read once it is done.
 */
function extract(
	{service, jobs}: ScreenContext,
	vm: string,
	point: string,
	file: string,
	lend: ReturnType<typeof useFileListing>['lend'],
) {
	jobs.run(`extract ${file} of ${vm} ${point}`, async ({signal}) => {
		const done = await lend(file, () =>
			service.extractFiles(vm, {
				point,
				path: file,
				command: `snapdeck ui: files ${vm} --extract`,
				signal,
			}),
		);
		return {
			outcome: 'done',
			message: `copied to ${done.written}${done.skipped.length > 0 ? ` (${done.skipped.length} left out: not data)` : ''}`,
		};
	});
}

/**
 * A backup point's files, read through libguestfs without restoring the point: Enter goes into a
 * folder, back goes up, x copies the selected file or folder out (a job, into ~/snapdeck-extract).
 * The point is opened once, one boot of libguestfs's appliance (seconds on KVM, about 20 s under
 * emulation); every folder after that is read through it in a round trip.
 */
function FilesScreen({context, visible}: ScreenProps) {
	const {service, state, dispatch, height, width} = context;
	const vm = state.vm ?? '';
	const point = state.point ?? '';
	const {where, setWhere, listing, current, lend, lentTo, warm} = useFileListing(service, vm, point);
	// The rows of the folder shown: none while another is being read, so no key acts on the folder before.
	const rows = current ? rowsOf(listing.data, where) : [];
	const cursor = useCursor(context, 'files', rows, row => row.name);
	const reading = listing.error
		? 'nothing here: the folder could not be read'
		: `${where === null ? 'the filesystems' : where} is being read: keys act on it once it is shown`;
	const go = (next: string | null) => {
		dispatch({type: 'select', screen: 'files', keys: [], row: 0});
		setWhere(next);
	};
	useBinding(context, {
		rows: cursor.keys,
		vm,
		commands: {
			open: () =>
				!current
					? reading
					: cursor.current?.into
						? go(cursor.current.into)
						: cursor.current
							? `${cursor.current.name} is a file: x extracts it`
							: 'nothing here',
			back: () => {
				if (where === null) return dispatch({type: 'go', screen: 'backups', at: 'keep'});
				const up = parentOf(where);
				// Above a filesystem's root: the filesystems, or the backup points where there is just one.
				if (up === null)
					return listing.data?.kind === 'entries' && where.includes(':')
						? go(null)
						: dispatch({type: 'go', screen: 'backups', at: 'keep'});
				go(up);
			},
			extract: () => {
				if (!current) return reading;
				const row = cursor.current;
				if (!row || listing.data?.kind !== 'entries') return 'select a file or folder first';
				extract(context, vm, point, joined(where ?? '/', row.name), lend);
			},
		},
	});
	const shown = where === null ? 'its filesystems' : where;
	return (
		<Box flexDirection="column" height={height} display={visible ? 'flex' : 'none'}>
			<Text bold wrap="truncate-end">
				Point {point} of {vm}: {shown}
				{current && listing.data?.kind === 'entries' ? ` (${rows.length} entries)` : ''}
			</Text>
			<FolderRows
				listing={listing}
				reading={!current}
				shown={shown}
				lentTo={lentTo}
				warm={warm}
				rows={rows}
				cursor={cursor.index}
				room={Math.max(1, height - 1)}
				width={width}
			/>
		</Box>
	);
}

/** What the folder shows under its heading: why it cannot be read, the wait while it is, or its rows around the cursor. */
function FolderRows({
	listing,
	reading,
	shown,
	lentTo,
	warm,
	rows,
	cursor,
	room,
	width,
}: {
	listing: Loaded<Listing>;
	reading: boolean;
	shown: string;
	lentTo: string | null;
	warm: boolean;
	rows: readonly Row[];
	cursor: number;
	room: number;
	width: number;
}) {
	const theme = useTheme();
	const start = windowStart(rows.length, cursor, room);
	if (listing.error)
		return (
			<Text color={theme.error} wrap="wrap">
				{listing.error}
			</Text>
		);
	if (reading)
		return (
			<Text color={theme.muted} wrap="truncate-end">
				{lentTo !== null
					? `reading ${shown} once the extraction of ${lentTo} is done (it has the point)…`
					: warm
						? `reading ${shown}…`
						: `reading ${shown} through libguestfs, read-only (about 20 s where it runs emulated)…`}
			</Text>
		);
	// In braces: a formatter takes runs of spaces in JSX text for one.
	if (rows.length === 0) return <Text color={theme.muted}>{'  empty'}</Text>;
	return rows.slice(start, start + room).map((row, offset) => (
		<Text key={row.name} inverse={start + offset === cursor} wrap="truncate-end">
			{start + offset === cursor ? '▸ ' : '  '}
			{fit(row.text, Math.max(10, width - 4)).trimEnd()}
		</Text>
	));
}

export const filesScreen: Screen = {
	name: 'files',
	label: 'the files of a point',
	title: state => `VMs › ${state.vm} › backups › ${state.point} › files`,
	Component: FilesScreen,
};
