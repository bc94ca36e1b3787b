import {Box} from 'ink';
import {Text} from './text.js';
import {withCursor} from '../text-edit.js';
import {pagerRows, ScrollBox} from './scroll-box.js';
import {useTheme} from '../theme.js';

/** A detail view's lines wrapped to the box's width (its border and padding take four columns). */
export const detailRows = (title: string, lines: readonly string[], width: number) =>
	pagerRows([title, ...lines], width - 4, () => 2, (_line, index) => (index === 0 ? 'heading' : undefined));

/** One item (a backup point, a journal record) whole: every line wrapped, none cut, scrolled like a plan. */
export function DetailsBox({title, lines, height, width, scroll, closeKey, keys}: {title: string; lines: readonly string[]; height: number; width: number; scroll: number; closeKey: string; keys: string}) {
	const theme = useTheme();
	const rows = detailRows(title, lines, width);
	return <ScrollBox rows={rows} height={height} width={width} scroll={scroll} borderColor={theme.accent} keys={keys} footer={<Text color={theme.muted} wrap="truncate-end">{closeKey}: close</Text>} />;
}

export interface TakeForm {
	readonly vm: string;
	readonly name: string;
	readonly description: string;
	readonly field: 'name' | 'description' | 'internal' | 'memory' | 'quiesce';
	readonly internal: boolean;
	readonly memory: boolean;
	readonly quiesce: boolean;
	/** Where the VM allows the option, null; else why not (memory: it is not running; quiesce: no guest agent here). */
	readonly memoryUnavailable: string | null;
	readonly quiesceUnavailable: string | null;
}

/** The fields Tab moves through: the options the VM does not allow are shown, with why, but skipped. */
export const takeFields = (form: TakeForm): Array<TakeForm['field']> =>
	['name', 'description', 'internal', ...(form.memoryUnavailable === null ? ['memory' as const] : []), ...(form.quiesceUnavailable === null ? ['quiesce' as const] : [])];

/** Name and description of a new snapshot (the name starts as a timestamp), and its kind and options. */
export function TakeDialog({form, error, at}: {form: TakeForm; error: string | null; at: number | null}) {
	const theme = useTheme();
	const shown = (field: 'name' | 'description') => (form.field === field ? withCursor(form[field], at) : form[field]);
	const box = (field: 'internal' | 'memory' | 'quiesce', on: boolean, label: string, unavailable: string | null) => (
		<Text wrap="truncate-end" color={unavailable === null ? undefined : theme.muted}>
			<Text inverse={form.field === field}>[{on ? 'x' : ' '}]</Text> {label}{unavailable === null ? '' : ` (${unavailable})`}
		</Text>
	);
	return (
		<Box flexDirection="column" borderStyle="round" borderColor={theme.accent} paddingX={1}>
			<Text bold>Take a snapshot of {form.vm}</Text>
			<Text>Name:        <Text inverse={form.field === 'name'}>{shown('name')}</Text></Text>
			<Text>Description: <Text inverse={form.field === 'description'}>{shown('description')}</Text></Text>
			{box('internal', form.internal, 'internal (inside the images) instead of external overlays', null)}
			{box('memory', form.memory, 'with memory (the RAM too)', form.memoryUnavailable)}
			{box('quiesce', form.quiesce, 'quiesced through the guest agent', form.quiesceUnavailable)}
			<Text color={theme.muted} wrap="truncate-end">Tab: next field, Space: tick, Enter: take.</Text>
			{error && <Text color={theme.error}>{error}</Text>}
		</Box>
	);
}

export const defaultSnapshotName = (now: Date) =>
	`snap-${now.toISOString().slice(0, 19).replaceAll('-', '').replace('T', '-').replaceAll(':', '')}`;

/** The kind of backup to start: auto (incremental when the VM's bitmaps allow), full or incremental. */
export function BackupDialog({vm, repository}: {vm: string; repository: string}) {
	const theme = useTheme();
	return (
		<Box flexDirection="column" borderStyle="round" borderColor={theme.accent} paddingX={1}>
			<Text bold>Back up {vm}</Text>
			<Text wrap="truncate-end">into {repository}</Text>
			<Text color={theme.muted}>auto: incremental when the last backup's dirty bitmaps are still on the disks, else full (and why).</Text>
		</Box>
	);
}

export interface RestoreForm {
	readonly vm: string;
	readonly point: string;
	readonly name: string;
}

/** The name of the new VM a point is restored as. */
export function RestoreDialog({form, error, at}: {form: RestoreForm; error: string | null; at: number | null}) {
	const theme = useTheme();
	return (
		<Box flexDirection="column" borderStyle="round" borderColor={theme.accent} paddingX={1}>
			<Text bold>Restore point {form.point} of {form.vm} as a new VM</Text>
			<Text>Name: <Text inverse>{withCursor(form.name, at)}</Text></Text>
			<Text color={theme.muted}>New images beside the other VMs; nothing existing is written to.</Text>
			{error && <Text color={theme.error}>{error}</Text>}
		</Box>
	);
}
