import {Box} from 'ink';
import {Text} from '../components/text.js';
import {useCallback, useEffect, useState} from 'react';
import {formatBytes} from '../../core/units.js';
import {useLoader} from '../hooks/use-inventory.js';
import {fit, windowStart} from '../layout.js';
import {useTheme} from '../theme.js';
import {useBinding, useCursor, type Screen, type ScreenProps} from './screen.js';

interface Row {
	readonly name: string;
	/** Where Enter goes: a folder's path (DEVICE:/path where the point has several filesystems); null for a file. */
	readonly into: string | null;
	readonly text: string;
}

const parentOf = (where: string) => {
	const [device, file] = where.includes(':') ? [where.slice(0, where.indexOf(':')), where.slice(where.indexOf(':') + 1)] : [null, where];
	const up = file.replace(/\/[^/]+\/?$/, '') || '/';
	return file === '/' ? null : device ? `${device}:${up}` : up;
};
const joined = (where: string, name: string) => `${where.replace(/\/$/, '')}/${name}`;

/**
 * A backup point's files, read through libguestfs without restoring the point: Enter goes into a
 * folder, back goes up, x copies the selected file or folder out (a job, into ~/snapdeck-extract).
 * Each folder is one boot of libguestfs's appliance: seconds on KVM, about 20 s under emulation.
 */
function FilesScreen({context, visible}: ScreenProps) {
	const theme = useTheme();
	const {service, state, dispatch, jobs, height, width} = context;
	const vm = state.vm ?? '';
	const point = state.point ?? '';
	// null: the point's filesystems (one of them is entered at once when it is the only one).
	const [where, setWhere] = useState<string | null>('/');
	const load = useCallback(() => service.listFiles(vm, {point, ...(where === null ? {} : {path: where}), command: `snapdeck ui: files ${vm}`}), [service, vm, point, where]);
	const listing = useLoader(load);
	// A point with several filesystems: '/' alone does not say which; show them to choose from.
	useEffect(() => {
		if (where === '/' && listing.error?.includes('filesystems: say which')) setWhere(null);
	}, [where, listing.error]);
	const rows: Row[] = listing.data === null ? []
		: listing.data.kind === 'filesystems' ? listing.data.filesystems.map(fs => ({name: fs.device, into: `${fs.device}:/`, text: `${fs.device}  ${fs.type}`}))
			: listing.data.entries.map(entry => ({
				name: entry.escapedName,
				into: entry.type === 'directory' ? joined(where ?? '/', entry.escapedName) : null,
				// A guest's names may hold line breaks, escape sequences and bytes that are not UTF-8: escaped, as paths take them.
				text: `${entry.mode}  ${(entry.device ?? formatBytes(entry.size)).padStart(9)}  ${entry.escapedName}${entry.type === 'directory' ? '/' : ''}${entry.escapedTarget === undefined ? '' : ` -> ${entry.escapedTarget}`}`,
			}));
	const cursor = useCursor(context, 'files', rows, row => row.name);
	const go = (next: string | null) => {
		dispatch({type: 'select', screen: 'files', keys: [], row: 0});
		setWhere(next);
	};
	useBinding(context, {rows: cursor.keys, vm, commands: {
		open: () => (cursor.current?.into ? go(cursor.current.into) : cursor.current ? `${cursor.current.name} is a file: x extracts it` : 'nothing here'),
		back: () => {
			if (where === null) return dispatch({type: 'go', screen: 'backups', at: 'keep'});
			const up = parentOf(where);
			// Above a filesystem's root: the filesystems, or the backup points where there is just one.
			if (up === null) return listing.data?.kind === 'entries' && where.includes(':') ? go(null) : dispatch({type: 'go', screen: 'backups', at: 'keep'});
			go(up);
		},
		extract: () => {
			const row = cursor.current;
			if (!row || listing.data?.kind !== 'entries') return 'select a file or folder first';
			const file = joined(where ?? '/', row.name);
			jobs.run(`extract ${file} of ${vm} ${point}`, async ({signal}) => {
				const done = await service.extractFiles(vm, {point, path: file, command: `snapdeck ui: files ${vm} --extract`, signal});
				return {outcome: 'done', message: `copied to ${done.written}${done.skipped.length > 0 ? ` (${done.skipped.length} left out: not data)` : ''}`};
			});
		},
	}});
	const room = Math.max(1, height - 1);
	const start = windowStart(rows.length, cursor.index, room);
	const shown = where === null ? 'its filesystems' : where;
	return (
		<Box flexDirection="column" height={height} display={visible ? 'flex' : 'none'}>
			<Text bold wrap="truncate-end">Point {point} of {vm}: {shown}{listing.data?.kind === 'entries' ? ` (${rows.length} entries)` : ''}</Text>
			{listing.error ? <Text color={theme.error} wrap="wrap">{listing.error}</Text>
				: listing.loading ? <Text color={theme.muted} wrap="truncate-end">reading {shown} through libguestfs, read-only (about 20 s where it runs emulated)…</Text>
					: rows.length === 0 ? <Text color={theme.muted}>  empty</Text>
						: rows.slice(start, start + room).map((row, offset) => (
							<Text key={row.name} inverse={start + offset === cursor.index} wrap="truncate-end">{start + offset === cursor.index ? '▸ ' : '  '}{fit(row.text, Math.max(10, width - 4)).trimEnd()}</Text>
						))}
		</Box>
	);
}

export const filesScreen: Screen = {
	name: 'files',
	label: 'the files of a point',
	title: state => `VMs › ${state.vm} › backups › ${state.point} › files`,
	Component: FilesScreen,
};
