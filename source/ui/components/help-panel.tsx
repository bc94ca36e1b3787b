import {COMMANDS, displayKey, type Command, type Context, type Keymap} from '../keymap.js';
import {fit, wrapWhole} from '../layout.js';
import {pagerLayout, positionText, type PagerGeometry, type PagerRow} from '../pager.js';
import {PagerFrame} from './scroll-box.js';
import {TEXT_EDITS} from '../text-edit.js';
import {useTheme} from '../theme.js';
import {Text} from './text.js';

/** A column of the `?` screen is at least this wide: as many as fit side by side, as k9s lays out its help. */
const MIN_COLUMN = 36;
const GAP = 2;

interface Cell {
	readonly text: string;
	readonly style?: 'title' | 'heading' | 'problem';
}

/** One category of commands as the rows of a column `width` wide: its heading, then each command wrapped whole under its keys. */
function categoryCells(
	keymap: Keymap,
	context: Context,
	category: string,
	commands: readonly Command[],
	keyWidth: number,
	width: number,
): Cell[] {
	return [
		{text: category, style: 'heading'},
		...commands.flatMap(command => {
			const keys = keymap.keysIn(context, command).map(displayKey).join(',') || '-';
			return wrapWhole(` ${keys.padEnd(keyWidth)} ${COMMANDS[command].description}`, width, keyWidth + 2).map(text => ({
				text,
			}));
		}),
	];
}

/**
 * The groups in at most `columns` columns of the fewest rows, each group whole: the tallest placed
 * first, each in the first column with room (first-fit decreasing), in table order within a column.
 */
function pack(groups: readonly Cell[][], columns: number): Cell[][] {
	const bySize = groups.map((group, index) => ({group, index})).sort((a, b) => b.group.length - a.group.length);
	const total = groups.reduce((sum, group) => sum + group.length, 0);
	for (let height = Math.max(Math.ceil(total / columns), ...groups.map(group => group.length)); ; height++) {
		const packed: Array<Array<{group: Cell[]; index: number}>> = Array.from({length: columns}, () => []);
		const size = (column: Array<{group: Cell[]}>) => column.reduce((sum, entry) => sum + entry.group.length, 0);
		if (
			bySize.every(entry => {
				const column = packed.find(candidate => size(candidate) + entry.group.length <= height);
				column?.push(entry);
				return column !== undefined;
			})
		) {
			const used = packed.filter(column => column.length > 0).map(column => column.sort((a, b) => a.index - b.index));
			return used.sort((a, b) => a[0]!.index - b[0]!.index).map(column => column.flatMap(entry => entry.group));
		}
	}
}

/** The keys of text fields and dialogs, from the keymap, in a sentence: they work in every field, wherever it is. */
function textFieldKeys(keymap: Keymap): string {
	const keys = (command: Command, context: Context = 'filter') =>
		keymap.keysIn(context, command).map(displayKey).join('/');
	return `Text fields: ${TEXT_EDITS.map(command => keys(command)).join(' ')} (readline's keys). Dialogs: ${keys('nextField', 'dialog')}/${keys('previousField', 'dialog')} field, ${keys('tick', 'dialogOption')} tick, ${keys('dismiss', 'dialog')} close.`;
}

/**
 * The `?` screen's lines for the screen under it, `width` columns wide (inside the border): its
 * keys by category in as many columns as fit (a category never split), then the keys of text fields
 * and dialogs; every line wrapped whole, none cut.
 */
export function helpLines(
	keymap: Keymap,
	context: Context,
	label: string,
	width: number,
): {rows: PagerRow[]; cells: Cell[][]; columnWidth: number} {
	const commands = keymap.commandsIn(context);
	const categories = [...new Set(commands.map(command => COMMANDS[command].category))];
	const keyWidth = Math.min(
		12,
		Math.max(...commands.map(command => keymap.keysIn(context, command).map(displayKey).join(',').length)),
	);
	const count = Math.max(1, Math.min(categories.length, Math.floor((width + GAP) / (MIN_COLUMN + GAP))));
	const narrowest = Math.floor((width - GAP * (count - 1)) / count);
	const columns = pack(
		categories.map(category =>
			categoryCells(
				keymap,
				context,
				category,
				commands.filter(command => COMMANDS[command].category === category),
				keyWidth,
				narrowest,
			),
		),
		count,
	);
	const height = Math.max(...columns.map(column => column.length));
	// The width the columns used leave: theirs (the rows wrapped narrower stay as they are).
	const columnWidth = Math.floor((width - GAP * (columns.length - 1)) / columns.length);
	const grid = Array.from({length: height}, (_, row) => columns.map(column => column[row] ?? {text: ''}));
	const prose = (text: string, style?: Cell['style']): Cell[][] =>
		wrapWhole(text, width, 0).map(line => [{text: line, style}]);
	const cells: Cell[][] = [
		...prose(`Keys on ${label}`, 'title'),
		...keymap.problems.flatMap(problem => prose(problem, 'problem')),
		...grid,
		...prose(textFieldKeys(keymap)),
	];
	const rows = cells.map((row, line) => ({
		text: row.map(cell => fit(cell.text, columnWidth)).join(' '.repeat(GAP)),
		line,
		part: 0,
		parts: 1,
	}));
	return {rows, cells, columnWidth};
}

/** The layout of the `?` screen in a pager of `geometry`. */
export const helpLayout = (
	keymap: Keymap,
	context: Context,
	label: string,
	geometry: PagerGeometry,
	scroll: number,
) => {
	const lines = helpLines(keymap, context, label, geometry.width);
	return {...lines, layout: pagerLayout(lines.rows, geometry.height, 0, scroll)};
};

/** The `?` screen of the screen under it, in a pager of `geometry`, scrolled with the movement keys when it does not fit. */
export function HelpOverlay({
	keymap,
	geometry,
	scroll,
	context,
	label,
	keys,
}: {
	keymap: Keymap;
	geometry: PagerGeometry;
	scroll: number;
	context: Context;
	label: string;
	keys: string;
}) {
	const theme = useTheme();
	const {layout, cells, columnWidth} = helpLayout(keymap, context, label, geometry, scroll);
	const color = (style: Cell['style']) =>
		style === 'heading' ? theme.accent : style === 'problem' ? theme.warn : undefined;
	return (
		<PagerFrame geometry={geometry}>
			{layout.scrolling.slice(layout.start, layout.start + layout.room).map(row => (
				<Text key={row.line} wrap="truncate-end">
					{cells[row.line]!.map((cell, index) => (
						<Text key={index} bold={cell.style === 'title' || cell.style === 'heading'} color={color(cell.style)}>
							{index > 0 ? ' '.repeat(GAP) : ''}
							{cells[row.line]!.length > 1 ? fit(cell.text, columnWidth) : cell.text}
						</Text>
					))}
				</Text>
			))}
			{layout.position && (
				<Text color={theme.muted} wrap="truncate-end">
					{positionText(layout, 0, keys, geometry.width)}
				</Text>
			)}
		</PagerFrame>
	);
}
