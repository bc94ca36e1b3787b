import {Box} from 'ink';
import {Text} from './text.js';
import {planLines} from '../../core/describe.js';
import {wrapWhole} from '../layout.js';
import {withCursor} from '../text-edit.js';
import {ScrollBox} from './scroll-box.js';
import type {Plan} from '../../core/plan.js';
import {useTheme} from '../theme.js';

/** The plan's lines wrapped to the dialog's width, none cut: what a confirmation scrolls through. */
export function confirmRows(plan: Plan, width: number): Array<{text: string; heading: boolean; loses: boolean}> {
	return planLines(plan).flatMap((line, index) => {
		const loses = /^(Discards|Deletes)/.test(line) || / stop /.test(line);
		return wrapWhole(line, Math.max(8, width - 4), line.startsWith('  ') ? 5 : 2).map(text => ({text, heading: index === 0, loses}));
	});
}

/**
 * Shows the plan, every file it touches and what is lost, before anything happens: each line
 * wrapped whole, scrolled with the movement keys when it does not fit. `typed`: the VM's name as
 * typed so far, for a plan that discards data or powers a VM off (null: `y` is enough).
 */
export function ConfirmDialog({plan, height, width, scroll, typed}: {plan: Plan; height: number; width: number; scroll: number; typed: string | null}) {
	const theme = useTheme();
	const rows = confirmRows(plan, width).map(row => ({text: row.text, bold: row.heading, color: row.loses ? theme.warn : undefined}));
	return (
		<ScrollBox rows={rows} height={height} width={width} scroll={scroll} borderColor={theme.warn} footer={typed === null
			? <Text bold>Proceed?</Text>
			: <Text bold wrap="truncate-end">Type <Text color={theme.warn}>{plan.vm}</Text> to proceed: {typed}</Text>} />
	);
}

/** A detail view's lines wrapped to the box's width. */
export const detailRows = (title: string, lines: readonly string[], width: number) =>
	[title, ...lines].flatMap((line, index) => wrapWhole(line, Math.max(8, width - 4), 2).map(text => ({text, bold: index === 0})));

/** One item (a backup point, a journal record) whole: every line wrapped, none cut, scrolled like a plan. */
export function DetailsBox({title, lines, height, width, scroll, closeKey}: {title: string; lines: readonly string[]; height: number; width: number; scroll: number; closeKey: string}) {
	const theme = useTheme();
	const rows = detailRows(title, lines, width);
	return <ScrollBox rows={rows} height={height} width={width} scroll={scroll} borderColor={theme.accent} footer={<Text color={theme.muted}>{closeKey}: close</Text>} />;
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
