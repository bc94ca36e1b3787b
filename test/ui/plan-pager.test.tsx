import {describe, expect, it} from 'vitest';
import {planLines as planText} from '../../source/core/describe.js';
import type {Plan} from '../../source/core/plan.js';
import {planPrune} from '../../source/core/prune-plan.js';
import type {Ports} from '../../source/service/ports.js';
import {confirmRows, lossSummary} from '../../source/ui/components/confirm-plan.js';
import type {Command} from '../../source/ui/keymap.js';
import {pagerGeometry} from '../../source/ui/pager.js';
import {backupPoint} from '../core/fixtures.js';
import {memoryLab} from '../helpers/memory-lab.js';
import {renderApp} from '../helpers/ui.js';

/** A VM on 'hotfix', a snapshot beside 'pre-upgrade', with data written since: reverting to 'pre-upgrade' discards it. */
async function hotfixLab(targets = ['vda'], [before, after] = ['pre-upgrade', 'hotfix']) {
	const lab = memoryLab('web1', {targets});
	await lab.write(0x11, 0);
	await lab.take(before!);
	await lab.write(0x22, 1);
	await lab.take(after!);
	await lab.write(0x33, 2);
	return lab;
}

/** The app on `service` at this size, from the VM list on, each key of `steps` pressed once what it needs is on screen. */
async function openApp(service: Ports, columns: number, terminalRows: number, steps: ReadonlyArray<[Command, string]>) {
	const ui = renderApp(service);
	ui.resize(columns, terminalRows);
	await ui.waitFor(frame => frame.includes('web1'), 'the list');
	for (const [command, shown] of steps) {
		ui.press(command);
		await ui.waitFor(frame => frame.includes(shown), shown);
	}
	return ui;
}

/** The app at this size on the revert of `lab`'s web1 to its first snapshot, and that plan as the service makes it. */
async function revertPlan(lab: Awaited<ReturnType<typeof hotfixLab>>, columns: number, terminalRows: number) {
	const ui = await openApp(lab.service, columns, terminalRows, [
		['open', 'web1: 2 snapshots'],
		['revert', 'Type web1 to proceed'],
	]);
	const frame = ui.frame();
	const snapshot = lab.definition().snapshots[0]!.name;
	const {plan} = await lab.service.perform(
		{kind: 'revert', vm: 'web1', snapshot},
		{command: 'test', dryRun: true, confirm: async () => false},
	);
	return {ui, frame, plan};
}

/**
 * web1 with six backup points on two disks and a policy keeping the last: its prune (P on the
 * backup points) removes five, by the planner's own plan, and asks for web1's name. The
 * repository's side (qemu-img on the points) is the system tier's; here the plan is what counts.
 */
function pruneLab(disks = ['vda', 'vdb']) {
	const lab = memoryLab('web1', {targets: disks});
	const ids = Array.from({length: 6}, (_, index) => `2026112${index}T120000Z`);
	const points = ids.map((id, index) =>
		index === 0 ? backupPoint(id, null, 646 << 10, disks) : backupPoint(id, ids[index - 1]!, 384 << 10, disks),
	);
	const remove = ids.slice(0, 5);
	const plan = planPrune({version: 1, vm: 'web1', identity: null, points}, remove);
	const pruned: string[] = [];
	const service: Ports = Object.create(lab.service, {
		repository: {value: {root: '/repo', vmDir: (vm: string) => `/repo/${vm}`}},
		backups: {value: async () => points},
		retentionOf: {value: async () => ({policy: 'keep-last', retention: {last: 1}})},
		prune: {
			value: async (_vm: string, options: {confirm: (plan: Plan) => Promise<boolean>}) => {
				const yes = await options.confirm(plan);
				if (yes) pruned.push(...remove);
				return {plan, keep: [points[5]!.id], remove, outcome: yes ? 'done' : 'declined'};
			},
		},
	});
	return {service, plan, pruned};
}

/** The rows of the frame that are the plan's: in a box (80x24 and up), or the whole terminal below. */
const planLines = (frame: string) =>
	frame.includes('╭')
		? frame
				.split('\n')
				.filter(line => line.startsWith('│'))
				.map(line => line.slice(2, -2).trimEnd())
		: frame.split('\n').map(line => line.trimEnd());

/**
 * Each kind of loss (Deletes, Discards) is on screen in `frame`: every row of its lines, or the
 * row that sums it up (one of `summary`); says which it was.
 */
function lossInView(frame: string, plan: Plan, width: number, summary: readonly string[]) {
	const shown = planLines(frame);
	const text = planText(plan);
	const rows = confirmRows(plan, width);
	return (['Deletes', 'Discards'] as const).map(label => {
		const whole = rows.filter(row => text[row.line]!.startsWith(`${label}:`)).map(row => row.text.trimEnd());
		expect(whole.length, label).toBeGreaterThan(0);
		if (whole.every(row => shown.includes(row))) return 'whole';
		expect(
			shown.filter(row => row.startsWith(`${label}:`) && summary.includes(row)),
			frame,
		).toHaveLength(1);
		return 'summary';
	});
}

/** Pages `ui`'s plan line by line to its end, `check` on every frame; then every row of it was shown. */
async function readLineByLine(
	ui: ReturnType<typeof renderApp>,
	rows: readonly string[],
	check: (frame: string) => void,
) {
	const seen = new Set<string>();
	for (let step = 0; step < 200; step++) {
		const frame = ui.frame();
		check(frame);
		for (const row of rows) if (planLines(frame).includes(row)) seen.add(row);
		const where = /lines (\d+)-(\d+) of (\d+)/.exec(frame);
		if (!where || where[2] === where[3]) break;
		ui.press('down');
		await ui.waitFor(
			next => next.includes(`lines ${Number(where[1]) + 1}-`),
			`line ${Number(where[1]) + 1} at the top`,
		);
	}
	expect(rows.filter(row => !seen.has(row))).toEqual([]);
}

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

	it('counts what is unread in the rows the position line counts: "lines 1-3 of 12" leaves 9 unread, and Enter says 9', async () => {
		const {ui} = await revertPlan(await hotfixLab(), 40, 12);
		const unread = (frame: string) => {
			const [, last, total, left] = /lines \d+-(\d+) of (\d+), (\d+) unread/.exec(frame) ?? [];
			return {left: Number(left), rest: Number(total) - Number(last)};
		};
		const first = unread(ui.frame());
		expect(first.rest).toBeGreaterThan(1);
		expect(first.left).toBe(first.rest);
		ui.type('web1');
		ui.press('submit');
		expect(await ui.waitFor(frame => frame.includes('not read yet'), 'the refusal')).toContain(
			`${first.rest} lines not read yet: PgDn`,
		);
		ui.press('pageDown');
		const second = unread(await ui.waitFor(frame => !frame.includes(`, ${first.left} unread`), 'the next page'));
		expect(second.left).toBe(second.rest);
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

	it.each([
		[40, 12],
		[41, 12],
		[60, 15],
		[80, 24],
	])(
		'at %sx%s a prune of five points of a two-disk VM keeps what it deletes and discards in view, whole or summed up, while it pages and while the name is typed',
		async (columns, terminalRows) => {
			const {service, plan, pruned} = pruneLab();
			const ui = await openApp(service, columns, terminalRows, [
				['backups', '20261125T120000Z'],
				['prune', 'Type web1 to proceed'],
			]);
			let frame = ui.frame();
			const width = pagerGeometry(columns, terminalRows, terminalRows - 5, terminalRows - 2).width;
			const summary = ['Deletes: 10 files (vda, vdb) ↓', 'Discards: 5 backup points ↓'];
			const inView = (frame: string) => {
				expect(frame.split('\n').length, frame).toBeLessThan(terminalRows);
				return lossInView(frame, plan, width, summary);
			};
			// Where the lines do not fit whole, both are summed up (never one whole beside a summary).
			expect(inView(frame)).toEqual(columns < 80 ? ['summary', 'summary'] : ['whole', 'whole']);
			ui.type('we');
			ui.press('submit');
			frame = await ui.waitFor(frame => frame.includes('exactly'), 'the name refused');
			inView(frame);
			ui.type('b1');
			ui.press('submit');
			inView(await ui.waitFor(frame => frame.includes('not read yet'), 'the refusal'));
			expect(pruned).toEqual([]);
			await readLineByLine(
				ui,
				confirmRows(plan, width).map(row => row.text.trimEnd()),
				frame => {
					inView(frame);
					expect(frame).toContain('Type web1 to proceed: web1▏');
				},
			);
			ui.press('submit');
			await ui.waitFor(frame => frame.includes('removed 5, kept 1'), 'the prune done');
			expect(pruned).toHaveLength(5);
		},
	);

	it.each([
		[40, 12],
		[41, 12],
		[60, 15],
	])(
		'at %sx%s a revert of two disks with long names keeps what it deletes and discards in view, whole or summed up, to the end',
		async (columns, terminalRows) => {
			const lab = await hotfixLab(
				['vda', 'vdb'],
				['before-the-distribution-upgrade-of-the-web-server', 'hotfix-applied-instead-of-the-upgrade'],
			);
			const {ui, plan} = await revertPlan(lab, columns, terminalRows);
			const summary = ['Deletes: 2 files (vda, vdb) ↓', 'Discards: data written to 2 images ↓'];
			const inView = (frame: string) => {
				expect(frame.split('\n').length, frame).toBeLessThan(terminalRows);
				return lossInView(frame, plan, columns, summary);
			};
			// Too many rows to pin whole at 40 and 41 columns; whole from 60x15 on.
			expect(inView(ui.frame())).toEqual(columns < 60 ? ['summary', 'summary'] : ['whole', 'whole']);
			ui.type('web1');
			ui.press('submit');
			inView(await ui.waitFor(frame => frame.includes('not read yet'), 'the refusal'));
			await readLineByLine(
				ui,
				confirmRows(plan, columns).map(row => row.text.trimEnd()),
				inView,
			);
			ui.press('submit');
			await ui.waitFor(frame => frame.includes('✓ revert web1'), 'the revert done');
			expect(await lab.reads(0x22, 1)).toBe(false);
		},
	);

	it('sums up what is lost in a row of at most 40 columns: the disks named where they fit, else counted', () => {
		expect(lossSummary(pruneLab().plan, 40)).toEqual(['Deletes: 10 files (vda, vdb) ↓', 'Discards: 5 backup points ↓']);
		const long = ['scsi-0QEMU_QEMU_HARDDISK_drive-scsi0', 'scsi-0QEMU_QEMU_HARDDISK_drive-scsi1'];
		const {plan} = pruneLab(long);
		expect(lossSummary(plan, 40)).toEqual(['Deletes: 10 files on 2 disks ↓', 'Discards: 5 backup points ↓']);
		expect(lossSummary(plan, 200)[0]).toBe(`Deletes: 10 files (${long.join(', ')}) ↓`);
	});
});
