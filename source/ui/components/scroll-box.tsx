import {Box} from 'ink';
import type {ReactNode} from 'react';
import {displayKey, type Keymap} from '../keymap.js';
import {wrapWhole} from '../layout.js';
import {pagerLayout, positionText, type PagerGeometry, type PagerLayout, type PagerRow} from '../pager.js';
import {useTheme} from '../theme.js';
import {Text} from './text.js';

/** Lines wrapped whole to `width` as a pager's rows; `tone` and `indent` by line. */
export function pagerRows(
	lines: readonly string[],
	width: number,
	indent: (line: string) => number,
	tone: (line: string, index: number) => PagerRow['tone'],
): PagerRow[] {
	return lines.flatMap((line, index) => {
		const parts = wrapWhole(line, Math.max(8, width), indent(line));
		return parts.map((text, part) => ({text, line: index, part, parts: parts.length, tone: tone(line, index)}));
	});
}

/** "↑↓ PgUp PgDn": the keys that scroll, from the keymap. */
export const scrollKeys = (keymap: Keymap) => {
	const first = (command: 'up' | 'down' | 'pageUp' | 'pageDown') => displayKey(keymap.keys[command][0] ?? '');
	return `${first('up')}${first('down')} ${first('pageUp')} ${first('pageDown')}`;
};

/** A pager's rows as laid out: those scrolled into view, where they are, the pinned ones (or their summary), then `children` (its own last lines). */
export function Pager({
	layout,
	width,
	unread = 0,
	keys,
	children,
}: {
	layout: PagerLayout;
	width: number;
	unread?: number;
	keys: string;
	children?: ReactNode;
}) {
	const theme = useTheme();
	const draw = (row: PagerRow) => (
		<Text
			key={`${row.line}:${row.part}`}
			bold={row.tone === 'heading'}
			color={row.tone === 'loses' ? theme.warn : undefined}
			wrap="truncate-end"
		>
			{row.text}
		</Text>
	);
	return (
		<>
			{layout.scrolling.slice(layout.start, layout.start + layout.room).map(draw)}
			{layout.position && (
				<Text color={theme.muted} wrap="truncate-end">
					{positionText(layout, unread, keys, width)}
				</Text>
			)}
			{layout.pinned.map(draw)}
			{layout.summary.map((text, index) => (
				<Text key={`summary${index}`} color={theme.warn} wrap="truncate-end">
					{text}
				</Text>
			))}
			{children}
		</>
	);
}

/**
 * Rows in a pager of `geometry` (a bordered box in the body, or the whole terminal), from `scroll`
 * on, with a last line of its own (`footer`, one row).
 */
export function ScrollBox({
	rows,
	geometry,
	scroll,
	borderColor,
	keys,
	footer,
}: {
	rows: readonly PagerRow[];
	geometry: PagerGeometry;
	scroll: number;
	borderColor?: string;
	keys: string;
	footer: ReactNode;
}) {
	const body = (
		<Pager layout={scrollBoxLayout(rows, geometry, scroll)} width={geometry.width} keys={keys}>
			{geometry.fullScreen && <Box flexGrow={1} />}
			{footer}
		</Pager>
	);
	return (
		<PagerFrame geometry={geometry} borderColor={borderColor}>
			{body}
		</PagerFrame>
	);
}

/** The layout of a ScrollBox: its footer takes one row. */
export const scrollBoxLayout = (rows: readonly PagerRow[], geometry: PagerGeometry, scroll: number) =>
	pagerLayout(rows, geometry.height, 1, scroll);

/** A pager's frame: a bordered box in the body, or the whole terminal, as `geometry` says. */
export function PagerFrame({
	geometry,
	borderColor,
	children,
}: {
	geometry: PagerGeometry;
	borderColor?: string;
	children: ReactNode;
}) {
	return geometry.fullScreen ? (
		<Box flexDirection="column" width={geometry.width} height={geometry.height}>
			{children}
		</Box>
	) : (
		<Box flexDirection="column" borderStyle="round" borderColor={borderColor} paddingX={1} width={geometry.width + 4}>
			{children}
		</Box>
	);
}
