import {Box} from 'ink';
import {counted, planLines, planLosses} from '../../core/describe.js';
import {safeText} from '../../core/terminal-text.js';
import type {Plan} from '../../core/plan.js';
import {fit, wrapLines, wrapWhole} from '../layout.js';
import {pagerLayout, shownRows, unreadRows, type PagerGeometry, type PagerLayout, type PagerRow} from '../pager.js';
import {useTheme} from '../theme.js';
import {Pager, PagerFrame, pagerRows} from './scroll-box.js';
import {Text} from './text.js';

/** What is lost: these lines stay in view, pinned above the question, when the plan must scroll. */
const LOSES = /^(Discards|Deletes):/;

/** The plan's lines wrapped to `width`, none cut: what a confirmation pages through. */
export const confirmRows = (plan: Plan, width: number): PagerRow[] =>
	pagerRows(
		planLines(plan),
		width,
		line => (line.startsWith('  ') ? 5 : 2),
		(line, index) => (index === 0 ? 'heading' : LOSES.test(line) || / stop /.test(line) ? 'loses' : undefined),
	);

/**
 * One row per kind of loss, pinned in place of the Deletes and Discards lines when they do not all
 * fit whole: "Deletes: 10 files (vda, vdb) ↓", the disks counted instead where their names do not
 * fit; from 40 columns on a row is never cut (only a count of thousands of disks would be).
 */
export function lossSummary(plan: Plan, width: number): string[] {
	return planLosses(plan).map(({label, what, disks}) => {
		const forms = [
			...(disks.length > 0 ? [`${what} (${disks.join(', ')})`, `${what} on ${counted(disks.length, 'disk')}`] : []),
			what,
		].map(form => `${label}: ${form} ↓`);
		return forms.find(form => [...safeText(form)].length <= width) ?? fit(forms.at(-1)!, width).trimEnd();
	});
}

export interface ConfirmState {
	readonly scroll: number;
	/** The VM's name as typed so far, with the cursor drawn (null: `y` is enough). */
	readonly typed: string | null;
	/** Keys of the rows shown so far (pager.ts). */
	readonly seen: readonly string[];
	/** The status line's note, drawn inside when the plan covers the terminal. */
	readonly note: string | null;
}

/** Everything a plan's confirmation draws and pages by: the same for the view and the keys. */
export function confirmView(plan: Plan, geometry: PagerGeometry, state: ConfirmState) {
	const rows = confirmRows(plan, geometry.width);
	const prompt =
		state.typed === null ? ['Proceed?'] : wrapWhole(`Type ${plan.vm} to proceed: ${state.typed}`, geometry.width, 2);
	// The note (why the answer was refused) is a hint: it gets the rows the plan leaves, never a
	// row of what is lost (or of its summary) or of the prompt, and is shortened to fit them.
	const noteText = geometry.fullScreen ? (state.note ?? '') : '';
	const lines = planLines(plan);
	const layout: PagerLayout = pagerLayout(
		rows,
		geometry.height,
		prompt.length,
		state.scroll,
		{select: row => LOSES.test(lines[row.line] ?? ''), summary: lossSummary(plan, geometry.width)},
		wrapLines(noteText, geometry.width, 2).length,
	);
	const note = layout.hint > 0 ? wrapLines(noteText, geometry.width, layout.hint) : [];
	const seen = new Set([...state.seen, ...shownRows(layout)]);
	return {rows, layout, prompt, note, seen, unread: unreadRows(rows, seen)};
}

/**
 * Shows the plan, every file it touches and what is lost, before anything happens: each line
 * wrapped whole, paged with the movement keys when it does not fit, what is lost pinned in view.
 */
export function ConfirmPlan({
	plan,
	geometry,
	state,
	keys,
}: {
	plan: Plan;
	geometry: PagerGeometry;
	state: ConfirmState;
	keys: string;
}) {
	const theme = useTheme();
	const {layout, prompt, note, unread} = confirmView(plan, geometry, state);
	const body = (
		<Pager layout={layout} width={geometry.width} unread={unread} keys={keys}>
			{geometry.fullScreen && <Box flexGrow={1} />}
			{note.map((line, index) => (
				<Text key={`note${index}`} color={theme.warn} wrap="truncate-end">
					{line}
				</Text>
			))}
			{prompt.map((line, index) => (
				<Text key={`prompt${index}`} bold wrap="truncate-end">
					{line}
				</Text>
			))}
		</Pager>
	);
	return (
		<PagerFrame geometry={geometry} borderColor={theme.warn}>
			{body}
		</PagerFrame>
	);
}
