import path from 'node:path';
import {execa} from 'execa';
import {afterEach, describe, expect, it} from 'vitest';
import {LocalHypervisor} from '../../source/adapters/local/local-hypervisor.js';
import {planLines} from '../../source/core/describe.js';
import {sessionPorts} from '../../source/service/session-ports.js';
import {HOSTILE_SHOWN, hostileLab} from '../helpers/hostile.js';
import {labWithVm, tempDir} from '../helpers/lab.js';
import {terminal} from '../helpers/terminal.js';

const BIN = path.resolve('bin/snapdeck');

/** The demo labs started here: their running VM (live1) is stopped after each test, whatever happened. */
const labs: string[] = [];
afterEach(async () => {
	for (const dir of labs.splice(0)) await execa(BIN, ['stop', '--all', '--connect', `local:${dir}`], {reject: false});
});

/** `snapdeck demo` in a real terminal of this size, with a repository, on the VM list. */
async function demo(columns: number, rows: number) {
	const dir = path.join(await tempDir(), 'lab');
	labs.push(dir);
	const repo = path.join(await tempDir(), 'repo');
	const tty = await terminal(`NO_COLOR=1 ${BIN} demo --dir ${dir} --repo ${repo}; echo EXIT=$?; exec sleep 600`, [
		columns,
		rows,
	]);
	await tty.waitFor(screen => shownVms(screen).length === 4, 'the four VMs of the demo', 60_000);
	return {tty, dir};
}

const shownVms = (screen: string) =>
	['app1', 'db1', 'live1', 'web1'].filter(vm => new RegExp(`^[▸ ] . ${vm} `, 'm').test(screen));
const selected = (screen: string) => /^▸ . (\S+)/m.exec(screen)?.[1];

/**
 * The plan's rows at this size, from the service as the UI gets them; `lost`: those of its Deletes
 * and Discards lines; `kinds`: those rows by kind, each with the row pinned in their stead where
 * they do not fit whole.
 */
async function planRows(root: string, vm: string, snapshot: string, columns: number, rows: number) {
	const {confirmRows, lossSummary} = await import('../../source/ui/components/confirm-plan.js');
	const {pagerGeometry} = await import('../../source/ui/pager.js');
	const {plan} = await sessionPorts(new LocalHypervisor(root)).perform(
		{kind: 'revert', vm, snapshot},
		{command: 'test', dryRun: true, confirm: async () => false},
	);
	const width = pagerGeometry(columns, rows, rows - 5, rows - 2).width;
	const all = confirmRows(plan, width);
	const lines = planLines(plan);
	const text = (row: {text: string}) => row.text.trimEnd();
	const lost = all.filter(row => /^(Deletes|Discards):/.test(lines[row.line] ?? '')).map(text);
	const kinds = lossSummary(plan, width).map(summary => ({
		summary,
		rows: all.filter(row => lines[row.line]!.startsWith(summary.split(' ')[0]!)).map(text),
	}));
	return Object.assign(all.map(text), {lost, kinds});
}

describe('snapdeck in a small terminal (40x12), on the demo lab', () => {
	it("web1's revert plan reads line by line, Discards included, and the typed name is taken only after; no stale cell on the way", async () => {
		const {tty, dir} = await demo(40, 12);
		await tty.keys('G', 'Enter');
		await tty.waitFor(screen => screen.includes('web1: 4 snapshots'), "web1's tree");
		await tty.keys('j', 'j');
		await tty.waitFor(
			screen => selected(screen) === 'pre-upgrade' || /▸ .*pre-upgrade/.test(screen),
			'pre-upgrade selected',
		);
		await tty.keys('r');
		let screen = await tty.waitFor(screen => screen.includes('Type web1 to proceed'), 'the revert plan');
		// What is lost is in view from the first page on, whole.
		expect(screen.replace(/\s+/g, ' '), screen).toContain(
			"Discards: vda.hotfix.qcow2: the data of vda written since 'hotfix' (4.0 MiB)",
		);
		const rows = await planRows(dir, 'web1', 'pre-upgrade', 40, 12);
		expect(rows.lost.join(' ').replace(/\s+/g, ' ')).toContain(
			"Deletes: vda.hotfix.qcow2 Discards: vda.hotfix.qcow2: the data of vda written since 'hotfix'",
		);
		// The name typed at once is refused: lines are still unread.
		await tty.keys('web1', 'Enter');
		screen = await tty.waitFor(screen => /\d+ lines? not read yet/.test(screen), 'the refusal');
		const seen = new Set<string>();
		for (let step = 0; step < 30; step++) {
			const lines = screen
				.split('\n')
				.map(line => line.trimEnd())
				.filter(line => line !== '');
			for (const row of rows) if (lines.includes(row)) seen.add(row);
			// Every line on screen is the plan's, or the pager's own: nothing stale, nothing shifted.
			const own = (line: string) =>
				/^lines \d+-\d+ of \d+/.test(line) ||
				line.startsWith('Type web1 to proceed: web1') ||
				/not read yet|^ ?shown yet/.test(line) ||
				line.startsWith('Enter accept');
			expect(
				lines.filter(line => !rows.includes(line) && !own(line)),
				screen,
			).toEqual([]);
			// What is lost (Deletes, Discards) is on screen at every step, the refusal's note taking none of its rows.
			for (const row of rows.lost) expect(lines, screen).toContain(row);
			const where = /lines (\d+)-(\d+) of (\d+)/.exec(screen)!;
			if (where[2] === where[3]) break;
			await tty.keys('Down');
			screen = await tty.waitFor(
				next => next.includes(`lines ${Number(where[1]) + 1}-`),
				`line ${Number(where[1]) + 1} at the top`,
			);
		}
		expect(rows.filter(row => !seen.has(row))).toEqual([]);
		await tty.keys('Enter');
		await tty.waitFor(screen => screen.includes('✓ revert web1'), 'the revert done');
		const {stdout} = await execa(BIN, ['list', '--json', '--connect', `local:${dir}`], {reject: false});
		expect(
			(JSON.parse(stdout) as {vms: Array<{name: string; current: string}>}).vms.find(vm => vm.name === 'web1')!.current,
		).toBe('pre-upgrade');
	});

	it('three seconds after a backup ends, three or more of the four VMs are in view; clearing a filter keeps the cursor on its VM; Ctrl-C closes the filter, then quits', async () => {
		const {tty} = await demo(40, 12);
		// Two backups, one after the other (app1, then db1): their messages do not pile up over the list.
		for (const vm of ['app1', 'db1']) {
			if (vm === 'db1') await tty.keys('j');
			await tty.keys('b');
			await tty.waitFor(screen => screen.includes(`Back up ${vm}`), 'the backup dialog');
			await tty.keys('f');
			await tty.waitFor(
				screen => new RegExp(`✓ full backup of ${vm}`).test(screen),
				`the backup of ${vm} done`,
				60_000,
			);
		}
		await new Promise(resolve => setTimeout(resolve, 3000));
		const after = await tty.screen();
		expect(shownVms(after).length, after).toBeGreaterThanOrEqual(3);

		await tty.keys('/', 'w', 'Enter');
		await tty.waitFor(
			screen => selected(screen) === 'web1' && screen.includes('filter: w'),
			'web1, the only VM the filter shows',
		);
		await tty.keys('Escape');
		const cleared = await tty.waitFor(
			screen => screen.includes('VMs (4)') || shownVms(screen).length === 4,
			'the filter cleared',
		);
		expect(selected(cleared)).toBe('web1');

		await tty.keys('/', 'd', 'b');
		await tty.waitFor(screen => screen.includes('filter: db▏'), 'the filter being typed');
		await tty.keys('C-c');
		const closed = await tty.waitFor(
			screen => !screen.includes('filter:') && shownVms(screen).length === 4,
			'the filter closed',
		);
		expect(closed).not.toContain('EXIT=');
		await tty.keys('C-c');
		await tty.waitFor(screen => screen.includes('EXIT=0'), 'snapdeck quitting on the second Ctrl-C');
	});
});

describe('a plan in a real terminal of any size', () => {
	it.each([
		[40, 12],
		[60, 20],
		[80, 24],
		[120, 40],
		[200, 60],
	])('at %sx%s every row is read before the name is taken, what is lost always in view', async (columns, rows) => {
		// Two disks at 40x12: what is lost is too big to pin whole there, so it is summed up.
		const disks = columns === 40 ? ['vda', 'vdb'] : ['vda'];
		const lab = await labWithVm('big1', disks);
		await lab.write(0x11, 0);
		await lab.take('before-the-distribution-upgrade-of-the-web-server');
		await lab.write(0x22, 1);
		await lab.take('hotfix-applied-instead-of-the-upgrade');
		await lab.write(0x33, 2);
		const tty = await terminal(`NO_COLOR=1 ${BIN} --connect local:${lab.root}; exec sleep 600`, [columns, rows]);
		await tty.waitFor(screen => screen.includes('big1'), 'the list');
		await tty.keys('Enter');
		await tty.waitFor(screen => screen.includes('big1: 2 snapshots'), 'the tree');
		await tty.keys('r');
		let screen = await tty.waitFor(screen => screen.includes('Type big1 to proceed'), 'the plan');
		await tty.keys('big1');
		// Where the plan does not fit, the name is refused while a line is unread.
		if (/lines \d+-\d+ of \d+/.test(screen)) {
			await tty.keys('Enter');
			screen = await tty.waitFor(
				next => next.includes('not read yet') || next.includes('✓ revert big1'),
				'the refusal',
			);
			expect(screen).toContain('not read yet');
		}
		const planned = await planRows(
			lab.root,
			'big1',
			'before-the-distribution-upgrade-of-the-web-server',
			columns,
			rows,
		);
		const seen = new Set<string>();
		const strip = (line: string) => line.replace(/^│ /, '').replace(/ *│$/, '').trimEnd();
		for (let page = 0; page < 30; page++) {
			const lines = screen.split('\n').map(strip);
			for (const row of planned) if (lines.includes(row)) seen.add(row);
			// Each kind of what is lost (Deletes, Discards) on screen: summed up at 40x12, all of its rows elsewhere.
			for (const kind of planned.kinds)
				expect(lines, screen).toEqual(expect.arrayContaining(disks.length > 1 ? [kind.summary] : kind.rows));
			const where = /lines (\d+)-(\d+) of (\d+)/.exec(screen);
			if (!where || where[2] === where[3]) break;
			await tty.keys('PageDown');
			screen = await tty.waitFor(next => !next.includes(where[0]), 'the next page');
		}
		expect(planned.filter(row => !seen.has(row))).toEqual([]);
		await tty.keys('Enter');
		await tty.waitFor(screen => screen.includes('✓ revert big1'), 'the revert done');
		expect(await lab.reads(0x22, 1)).toBe(false);
	});
});

describe('text from outside in a real terminal', () => {
	it('a description and an error holding ESC sequences, BEL and a bidi override are shown escaped: the title is unchanged, nothing cleared', async () => {
		const lab = await hostileLab();
		const tty = await terminal(`NO_COLOR=1 ${BIN} --connect local:${lab.root}; exec sleep 600`, [200, 30]);
		const list = await tty.waitFor(screen => screen.includes('h1') && screen.includes('h2'), 'the list');
		const title = await tty.title();
		expect(title).not.toContain('PWNED');
		expect(list).toContain('x\\x1b]0;PWNED');
		await tty.keys('Enter');
		const tree = await tty.waitFor(screen => screen.includes('h1: 1 snapshot'), "h1's tree");
		expect(tree).toContain(`before${HOSTILE_SHOWN}after`);
		expect(tree.split('\n')[0]).toMatch(/^snapdeck local:/);
		await tty.keys('Escape', 'j', 'Enter');
		const error = await tty.waitFor(screen => screen.includes('is missing'), "h2's error");
		expect(error).toContain(`x${HOSTILE_SHOWN}.qcow2 is missing`);
		expect(error.split('\n')[0]).toMatch(/^snapdeck local:/);
		expect(await tty.title()).toBe(title);
	});
});
