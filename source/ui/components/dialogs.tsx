import {Box} from 'ink';
import type {ReactElement, ReactNode} from 'react';
import {safeText} from '../../core/terminal-text.js';
import {fit, wrapWhole} from '../layout.js';
import {Text} from './text.js';
import {withCursor} from '../text-edit.js';
import type {PagerGeometry} from '../pager.js';
import {pagerRows, ScrollBox} from './scroll-box.js';
import {useTheme} from '../theme.js';

/** A detail view's lines wrapped to the pager's width. */
export const detailRows = (title: string, lines: readonly string[], width: number) =>
	pagerRows(
		[title, ...lines],
		width,
		() => 2,
		(_line, index) => (index === 0 ? 'heading' : undefined),
	);

/** One item (a backup point, a journal record) whole: every line wrapped, none cut, scrolled like a plan. */
export function DetailsBox({
	title,
	lines,
	geometry,
	scroll,
	closeKey,
	keys,
}: {
	title: string;
	lines: readonly string[];
	geometry: PagerGeometry;
	scroll: number;
	closeKey: string;
	keys: string;
}) {
	const theme = useTheme();
	const rows = detailRows(title, lines, geometry.width);
	return (
		<ScrollBox
			rows={rows}
			geometry={geometry}
			scroll={scroll}
			borderColor={theme.accent}
			keys={keys}
			footer={
				<Text color={theme.muted} wrap="truncate-end">
					{closeKey}: close
				</Text>
			}
		/>
	);
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
export const takeFields = (form: TakeForm): Array<TakeForm['field']> => [
	'name',
	'description',
	'internal',
	...(form.memoryUnavailable === null ? ['memory' as const] : []),
	...(form.quiesceUnavailable === null ? ['quiesce' as const] : []),
];

/** Name and description of a new snapshot (the name starts as a timestamp), and its kind and options. */
export function TakeDialog({
	form,
	at,
	height,
	width,
	hint,
}: {
	form: TakeForm;
	at: number | null;
	height: number;
	width: number;
	hint: string;
}) {
	const theme = useTheme();
	const room = width - 4 - 'Description: '.length;
	const field = (label: string, name: 'name' | 'description') => (
		<Text wrap="truncate-end">
			{label}
			<Text inverse={form.field === name}>
				{form.field === name ? fieldText(form[name], at, room) : fit(form[name], room).trimEnd()}
			</Text>
		</Text>
	);
	// An option and why it is not offered, on its line where both fit; else the label short and the
	// reason whole on the lines below it (at 40 columns the reason was cut, and with it the why).
	const box = (
		name: 'internal' | 'memory' | 'quiesce',
		on: boolean,
		label: string,
		short: string,
		unavailable: string | null,
	) => {
		const tick = <Text inverse={form.field === name}>[{on ? 'x' : ' '}]</Text>;
		const color = unavailable === null ? undefined : theme.muted;
		const whole = `[ ] ${label}${unavailable === null ? '' : ` (${unavailable})`}`;
		if ([...whole].length <= width - 4)
			return [
				<Text wrap="truncate-end" color={color}>
					{tick} {label}
					{unavailable === null ? '' : ` (${unavailable})`}
				</Text>,
			];
		const head = (
			<Text wrap="truncate-end" color={color}>
				{tick} {short}
				{unavailable === null ? '' : ':'}
			</Text>
		);
		const reasons = unavailable === null ? [] : wrapWhole(unavailable, width - 8, 0);
		return [
			head,
			...reasons.map(line => (
				<Text wrap="truncate-end" color={theme.muted}>
					{`    ${line}`}
				</Text>
			)),
		];
	};
	return (
		<DialogFrame
			title={`Take a snapshot of ${form.vm}`}
			height={height}
			width={width}
			hint={hint}
			rows={[
				field('Name:        ', 'name'),
				field('Description: ', 'description'),
				...box(
					'internal',
					form.internal,
					'internal (inside the images) instead of external overlays',
					'internal',
					null,
				),
				...box('memory', form.memory, 'with memory (the RAM too)', 'with memory', form.memoryUnavailable),
				...box('quiesce', form.quiesce, 'quiesced through the guest agent', 'quiesced', form.quiesceUnavailable),
			]}
		/>
	);
}

export const defaultSnapshotName = (now: Date) =>
	`snap-${now.toISOString().slice(0, 19).replaceAll('-', '').replace('T', '-').replaceAll(':', '')}`;

/** The kind of backup to start: auto (incremental when the VM's bitmaps allow), full or incremental. */
export function BackupDialog({
	vm,
	repository,
	height,
	width,
}: {
	vm: string;
	repository: string;
	height: number;
	width: number;
}) {
	const theme = useTheme();
	return (
		<DialogFrame
			title={`Back up ${vm}`}
			height={height}
			width={width}
			rows={[<Text wrap="truncate-end">into {repository}</Text>]}
			hint={
				<Text color={theme.muted}>
					auto: incremental when the last backup's dirty bitmaps are still on the disks, else full (and why).
				</Text>
			}
		/>
	);
}

export interface RestoreForm {
	readonly vm: string;
	readonly point: string;
	readonly name: string;
}

/** The name of the new VM a point is restored as. */
export function RestoreDialog({
	form,
	at,
	height,
	width,
}: {
	form: RestoreForm;
	at: number | null;
	height: number;
	width: number;
}) {
	const theme = useTheme();
	return (
		<DialogFrame
			title={`Restore point ${form.point} of ${form.vm} as a new VM`}
			height={height}
			width={width}
			rows={[
				<Text wrap="truncate-end">
					Name: <Text inverse>{fieldText(form.name, at, width - 10)}</Text>
				</Text>,
			]}
			hint={<Text color={theme.muted}>New images beside the other VMs; nothing existing is written to.</Text>}
		/>
	);
}

/**
 * A field's text with its cursor, in `width` columns: where it is longer, the part around the
 * cursor (a long description scrolls sideways as it is typed, the cursor always in view).
 */
export function fieldText(value: string, at: number | null, width: number): string {
	const chars = [
		...withCursor(safeText(value), at === null ? null : [...safeText([...value].slice(0, at).join(''))].length),
	];
	if (chars.length <= width) return chars.join('');
	const cursor = chars.indexOf('▏');
	const start = Math.max(0, Math.min(cursor - width + 2, chars.length - width));
	return chars.slice(start, start + width).join('');
}

/**
 * A dialog in the body `height` rows tall: its title first (wrapped whole), then its rows, one each,
 * then `hint` (a string: its keys, or a note) where there is room. Bordered where that fits; in a
 * small terminal the border and then the hint go, never the title.
 */
function DialogFrame({
	title,
	rows,
	hint,
	height,
	width,
}: {
	title: string;
	rows: readonly ReactElement[];
	hint?: ReactNode;
	height: number;
	width: number;
}) {
	const theme = useTheme();
	const boxed = wrapWhole(title, width - 4, 2);
	const bordered = boxed.length + rows.length + 2 + (hint ? 1 : 0) <= height;
	const heading = bordered ? boxed : wrapWhole(title, width, 2);
	const showHint = hint !== undefined && heading.length + rows.length + (bordered ? 2 : 0) + 1 <= height;
	const content = (
		<>
			{heading.map((line, index) => (
				<Text key={index} bold wrap="truncate-end">
					{line}
				</Text>
			))}
			{rows.map((row, index) => (
				<Box key={index}>{row}</Box>
			))}
			{showHint &&
				(typeof hint === 'string' ? (
					<Text color={theme.muted} wrap="truncate-end">
						{hint}
					</Text>
				) : (
					hint
				))}
		</>
	);
	return bordered ? (
		<Box flexDirection="column" borderStyle="round" borderColor={theme.accent} paddingX={1} width={width}>
			{content}
		</Box>
	) : (
		<Box flexDirection="column" width={width}>
			{content}
		</Box>
	);
}
