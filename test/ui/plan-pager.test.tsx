import {describe, expect, it} from 'vitest';
import {planLines as planText} from '../../source/core/describe.js';
import {confirmRows} from '../../source/ui/components/confirm-plan.js';
import {pagerGeometry} from '../../source/ui/pager.js';
import {memoryLab} from '../helpers/memory-lab.js';
import {renderApp} from '../helpers/ui.js';

/** A VM on 'hotfix', a snapshot beside 'pre-upgrade', with data written since: reverting to 'pre-upgrade' discards it. */
async function hotfixLab(targets = ['vda']) {
	const lab = memoryLab('web1', {targets});
	await lab.write(0x11, 0);
	await lab.take('pre-upgrade');
	await lab.write(0x22, 1);
	await lab.take('hotfix');
	await lab.write(0x33, 2);
	return lab;
}

/** The app at this size on the revert of `lab`'s web1 to 'pre-upgrade', and that plan as the service makes it. */
async function revertPlan(lab: Awaited<ReturnType<typeof hotfixLab>>, columns: number, terminalRows: number) {
	const ui = renderApp(lab.service);
	ui.resize(columns, terminalRows);
	await ui.waitFor(frame => frame.includes('web1'), 'the list');
	ui.press('open');
	await ui.waitFor(frame => frame.includes('web1: 2 snapshots'), 'the tree');
	ui.press('revert');
	const frame = await ui.waitFor(frame => frame.includes('Type web1 to proceed'), 'the revert plan');
	const plan = (
		await lab.service.perform(
			{kind: 'revert', vm: 'web1', snapshot: 'pre-upgrade'},
			{command: 'test', dryRun: true, confirm: async () => false},
		)
	).plan;
	return {ui, frame, plan};
}

/** The rows of the frame that are the plan's: in a box (80x24 and up), or the whole terminal below. */
const planLines = (frame: string) =>
	frame.includes('╭')
		? frame
				.split('\n')
				.filter(line => line.startsWith('│'))
				.map(line => line.slice(2, -2).trimEnd())
		: frame.split('\n').map(line => line.trimEnd());

describe('a plan in any terminal size: read whole before it is accepted', () => {
	it('at 40x12 it covers the terminal, pages line by line with what is lost pinned, and takes the typed name only once every line was shown', async () => {
		const lab = await hotfixLab();
		const before = JSON.stringify(lab.definition());
		const opened = await revertPlan(lab, 40, 12);
		const ui = opened.ui;
		let frame = opened.frame;
		expect(frame.split('\n').length).toBeLessThanOrEqual(11);
		expect(frame).not.toContain('snapdeck local:');
		// Too soon: the name typed is refused while lines are unread.
		ui.type('web1');
		ui.press('submit');
		await ui.waitFor(frame => /\d+ lines? not read yet: PgDn/.test(frame), 'the refusal');
		expect(JSON.stringify(lab.definition())).toBe(before);

		const rows = confirmRows(opened.plan, 40).map(row => row.text.trimEnd());
		const seen = new Set<string>();
		for (let step = 0; step < 40; step++) {
			frame = ui.frame();
			const lines = planLines(frame);
			// What is lost is in view at every step, and the name being typed too.
			expect(frame).toContain('Discards: vda.hotfix.qcow2: the data of');
			expect(frame).toContain('Type web1 to proceed: web1▏');
			for (const row of rows) if (lines.includes(row)) seen.add(row);
			const where = /lines (\d+)-(\d+) of (\d+)/.exec(frame)!;
			if (where[2] === where[3]) break;
			ui.press('down');
			await ui.waitFor(
				next => next.includes(`lines ${Number(where[1]) + 1}-`),
				`line ${Number(where[1]) + 1} at the top`,
			);
		}
		expect(rows.filter(row => !seen.has(row))).toEqual([]);
		ui.press('submit');
		await ui.waitFor(frame => frame.includes("✓ revert web1 to 'pre-upgrade'"), 'the revert done');
		expect(await lab.reads(0x11, 0)).toBe(true);
		expect(await lab.reads(0x22, 1)).toBe(false);
	});

	it('at 40x12 a note said while the name is typed takes no row of what is lost: every Deletes and Discards row stays on screen', async () => {
		// Two disks: the revert deletes two files and discards two disks' data: six rows pinned at 40 columns.
		const {ui, plan} = await revertPlan(await hotfixLab(['vda', 'vdb']), 40, 12);
		const text = planText(plan);
		const lost = confirmRows(plan, 40)
			.filter(row => /^(Deletes|Discards):/.test(text[row.line]!))
			.map(row => row.text.trimEnd());
		expect(lost.filter(row => row.startsWith('Discards:'))).toHaveLength(2);
		const inView = (frame: string, note: RegExp) => {
			const lines = planLines(frame);
			expect(frame).toMatch(note);
			expect(
				lost.filter(row => !lines.includes(row)),
				frame,
			).toEqual([]);
			expect(frame.split('\n').length).toBeLessThanOrEqual(11);
		};
		ui.type('we');
		ui.press('submit');
		inView(await ui.waitFor(frame => frame.includes('exactly'), 'the name refused'), /Type web1 to proceed: we▏/);
		ui.type('b1');
		ui.press('submit');
		inView(
			await ui.waitFor(frame => frame.includes('not read yet'), 'the refusal'),
			/\d+ lines not read yet: PgDn\nType web1 to proceed: web1▏/,
		);
	});

	it.each([
		[40, 12],
		[44, 13],
		[50, 15],
		[60, 20],
		[80, 24],
		[100, 30],
		[200, 60],
	])('at %sx%s PgDn shows every row of the plan, none skipped, none cut', async (columns, terminalRows) => {
		const {ui, plan} = await revertPlan(await hotfixLab(), columns, terminalRows);
		const bodyHeight = terminalRows - 1 - 3 - 1;
		const rows = confirmRows(plan, pagerGeometry(columns, terminalRows, bodyHeight, terminalRows - 2).width).map(row =>
			row.text.trimEnd(),
		);
		const seen = new Set<string>();
		for (let page = 0; page < 40; page++) {
			const frame = ui.frame();
			expect(frame.split('\n').length).toBeLessThan(terminalRows);
			for (const row of rows) if (planLines(frame).includes(row)) seen.add(row);
			const where = /lines (\d+)-(\d+) of (\d+)/.exec(frame);
			if (!where || where[2] === where[3]) break;
			ui.press('pageDown');
			await ui.waitFor(next => !next.includes(where[0]), 'the next page');
		}
		expect(rows.filter(row => !seen.has(row))).toEqual([]);
		ui.type('web1');
		ui.press('submit');
		await ui.waitFor(frame => frame.includes('✓ revert web1'), 'the revert done');
	});
});
