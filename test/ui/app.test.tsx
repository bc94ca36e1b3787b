import {describe, expect, it} from 'vitest';
import {buildKeymap, COMMANDS, displayKey, type Command, type Context} from '../../source/ui/keymap.js';
import {confirmRows} from '../../source/ui/components/confirm-plan.js';
import {wrapWhole} from '../../source/ui/layout.js';
import {memoryLab} from '../helpers/memory-lab.js';
import {renderApp} from '../helpers/ui.js';

/** The VM's backing chain, top first, as file names (the contract suite holds it to qemu-img's). */
async function chainOf(lab: ReturnType<typeof memoryLab>): Promise<string[]> {
	return (await lab.service.list()).find(vm => vm.name === lab.definition().name)!.disks[0]!.chain;
}

describe('the terminal UI', () => {
	it('takes, reverts and merges a snapshot by keys alone, showing the plan first, and the disk follows', async () => {
		const lab = memoryLab('web9');
		await lab.write(0xa1, 1);
		const ui = renderApp(lab.service);
		await ui.waitFor(frame => frame.includes('web9') && frame.includes('stopped'), 'the VM list');

		ui.press('open');
		await ui.waitFor(frame => frame.includes('no snapshots yet: t takes one'), 'the empty tree');

		// Take: the dialog offers a timestamp name; replace it with our own.
		ui.press('take');
		await ui.waitFor(
			frame => frame.includes('Take a snapshot of web9') && frame.includes('snap-20261125-120000'),
			'the take dialog with a default name',
		);
		ui.type('\x7f'.repeat('snap-20261125-120000'.length));
		ui.type('before-upgrade');
		ui.press('submit');
		await ui.waitFor(
			frame => frame.includes('Creates: vda.before-upgrade.qcow2') && frame.includes('Proceed?'),
			'the plan of the snapshot',
		);
		ui.press('confirm');
		await ui.waitFor(frame => /before-upgrade .*◀ you are here/.test(frame), 'the new snapshot as current');
		expect(await chainOf(lab)).toEqual(['vda.before-upgrade.qcow2', 'web9-vda.qcow2']);

		// The guest writes B; revert brings A back.
		await lab.write(0xb2, 1);
		ui.press('revert');
		await ui.waitFor(
			frame =>
				frame.includes("Plan: revert web9 to external snapshot 'before-upgrade'") &&
				frame.includes('Discards') &&
				frame.includes('Type web9 to proceed'),
			'the revert plan',
		);
		// It discards data: the VM's name, typed, is what goes ahead.
		ui.type('web9');
		await ui.waitFor(frame => frame.includes('Type web9 to proceed: web9'), 'the name typed');
		ui.press('submit');
		await ui.waitFor(frame => frame.includes("✓ revert web9 to 'before-upgrade' done"), 'the revert done');
		expect(await lab.reads(0xa1, 1)).toBe(true);
		expect(await lab.reads(0xb2, 1)).toBe(false);

		// Merge it away: the tree empties, the data stays.
		ui.press('merge');
		await ui.waitFor(frame => frame.includes("Plan: merge away external snapshot 'before-upgrade'"), 'the merge plan');
		ui.type('web9');
		ui.press('submit');
		await ui.waitFor(frame => frame.includes('no snapshots yet'), 'the tree after the merge');
		expect(await lab.reads(0xa1, 1)).toBe(true);
		expect((await chainOf(lab)).length).toBe(1);
	});

	it('shows a plan whole: long lines wrap, nothing is cut; at 40x12 it scrolls to the end; discarding data takes the VM name, not y', async () => {
		const lab = memoryLab('web9');
		const long = 'before-the-distribution-upgrade-of-the-web-server-2026-11-30';
		await lab.take(long);
		await lab.write(0xb2, 1);
		const before = JSON.stringify(lab.definition());
		const plan = (
			await lab.service.perform(
				{kind: 'revert', vm: 'web9', snapshot: long},
				{command: 'test', dryRun: true, confirm: async () => false},
			)
		).plan;
		const ui = renderApp(lab.service);
		await ui.waitFor(frame => frame.includes('web9'), 'the VM list');
		ui.press('open');
		await ui.waitFor(frame => frame.includes('web9: 1 snapshot'), 'the tree');
		ui.press('revert');
		await ui.waitFor(frame => frame.includes('Type web9 to proceed'), 'the revert plan');
		// The plan's lines: in a box at 80x24, the whole terminal at 40x12.
		const dialogLines = (frame: string) =>
			frame
				.split('\n')
				.filter(line => line.startsWith('│'))
				.map(line => line.slice(2, -2));
		const pagerLines = (frame: string) => (frame.includes('│') ? dialogLines(frame) : frame.split('\n'));
		/** Scrolls from the top to the end, collecting what the dialog showed; every row of the plan must have been on screen, none cut. */
		const scrollThrough = async (width: number) => {
			const rows = confirmRows(plan, width).map(row => row.text.trimEnd());
			for (let top = 0; top < rows.length; top++) ui.press('up');
			await ui.waitFor(frame => !frame.includes('lines ') || frame.includes('lines 1-'), 'the top of the plan');
			const seen = new Set<string>();
			for (let first = 1; first <= rows.length; first++) {
				const lines = pagerLines(ui.frame());
				expect(lines.join('\n')).not.toContain('…');
				for (const row of rows) if (lines.some(line => line.trimEnd() === row)) seen.add(row);
				const shown = /lines \d+-(\d+) of (\d+)/.exec(ui.frame());
				if (!shown || shown[1] === shown[2]) break;
				ui.press('down');
				await ui.waitFor(frame => frame.includes(`lines ${first + 1}-`), `the plan scrolled to row ${first + 1}`);
			}
			expect(rows.filter(row => !seen.has(row))).toEqual([]);
			return rows;
		};
		expect((await scrollThrough(76)).some(row => row.startsWith('Discards'))).toBe(true);

		// y is not enough (it is typed, as any letter), a wrong name is not either: nothing changes.
		ui.press('confirm');
		ui.type('web9');
		await ui.waitFor(frame => frame.includes('Type web9 to proceed: yweb9'), 'what was typed');
		ui.press('submit');
		await ui.waitFor(frame => frame.includes('type web9 exactly, or Esc to cancel'), 'the note');
		expect(JSON.stringify(lab.definition())).toBe(before);

		// 40x12: the same plan covers the terminal and pages; every row of it can be brought on screen, the last one too.
		ui.resize(40, 12);
		await ui.waitFor(
			frame => /lines \d+-\d+ of \d+/.test(frame) && frame.split('\n')[1]!.length <= 40,
			'the plan at 40 columns',
		);
		await scrollThrough(40);
		ui.press('dismiss');
		// (At 40 columns the job's line is cut before its outcome: the dialog gone and the data unchanged say it.)
		await ui.waitFor(frame => !frame.includes('Type web9') && frame.includes('· revert web9'), 'the declined job');
		expect(JSON.stringify(lab.definition())).toBe(before);
	});

	it('below 40x12 it asks for a larger terminal and acts on no key but quit; larger again, it is back as it was', async () => {
		const lab = memoryLab('web9');
		const ui = renderApp(lab.service);
		await ui.waitFor(frame => frame.includes('web9'), 'the VM list');
		ui.resize(30, 10);
		await ui.waitFor(
			frame =>
				frame
					.replace(/\s+/g, ' ')
					.includes('the terminal is 30x10; it needs at least 40x12. Enlarge it to go on, or q to quit.') &&
				!frame.includes('web9'),
			'the request for a larger terminal',
		);
		ui.press('take');
		await ui.waitFor(
			frame => frame.replace(/\s+/g, ' ').includes('t was not acted on: the terminal was too small to show it'),
			'the key refused',
		);
		ui.resize(80, 24);
		const back = await ui.waitFor(frame => frame.includes('web9') && frame.includes('VMs (1)'), 'the VM list again');
		expect(back).not.toContain('Take a snapshot');
		expect(back).not.toContain('needs at least');
		// What was not done stays said until the next key.
		expect(back).toContain('t was not acted on: the terminal was too small to show it');
	});

	it('wraps a line whole: no character lost, no line wider than asked', () => {
		const texts = [
			'Discards: vda.before-the-distribution-upgrade-of-the-web-server-2026-11-30.qcow2: the data of vda written since that snapshot (4.3 MiB)',
			'a',
			'',
			'x'.repeat(95),
			'short words only here',
		];
		for (const text of texts) {
			for (const width of [8, 13, 40, 80]) {
				const lines = wrapWhole(text, width, 2);
				expect(
					lines.every(line => [...line].length <= width),
					`${width}: ${lines.join('|')}`,
				).toBe(true);
				expect(lines.join('').replaceAll(' ', '')).toBe(text.replaceAll(' ', ''));
			}
		}
	});

	it('changes nothing when the confirmation is declined', async () => {
		const lab = memoryLab();
		await lab.take('s1');
		const before = JSON.stringify(lab.definition());
		const ui = renderApp(lab.service);
		await ui.waitFor(frame => frame.includes('vm1'), 'the VM list');
		ui.press('open');
		await ui.waitFor(frame => frame.includes('vm1: 1 snapshot'), 'the tree');
		ui.press('merge');
		await ui.waitFor(frame => frame.includes('Type vm1 to proceed'), 'the merge plan');
		ui.type('vm');
		ui.press('dismiss');
		await ui.waitFor(frame => frame.includes('declined: nothing was changed'), 'the declined job');
		expect(JSON.stringify(lab.definition())).toBe(before);
	});

	it('shows a refusal as a readable message, not a crash', async () => {
		const lab = memoryLab();
		await lab.take('e1');
		await lab.take('i2', 'internal');
		const ui = renderApp(lab.service);
		await ui.waitFor(frame => frame.includes('vm1'), 'the VM list');
		ui.press('open');
		await ui.waitFor(frame => frame.includes('vm1: 2 snapshots'), 'the tree');
		ui.press('merge');
		const frame = await ui.waitFor(frame => frame.includes('✗'), 'the failed job');
		expect(frame.replace(/\s+/g, ' ')).toContain('holds internal snapshots i2');
		expect(frame.replace(/\s+/g, ' ')).toContain('delete those internal snapshots first');
		expect(frame).not.toContain('    at ');
	});

	it('handles keys that arrive in one read, as they do over SSH', async () => {
		const lab = memoryLab('aaa');
		const ui = renderApp(lab.service);
		await ui.waitFor(frame => frame.includes('aaa'), 'the VM list');
		ui.type('t\x1b');
		ui.type('jj\r');
		await ui.waitFor(frame => frame.includes('aaa: 0 snapshots'), 'the tree opened by Enter in the same read');
	});
});

describe('keys and help come from one keymap table', () => {
	it("the help bar and each screen's ? list that screen's keys from the keymap, whole, in 80x24", async () => {
		const lab = memoryLab();
		const ui = renderApp(lab.service);
		let frame = await ui.waitFor(frame => frame.includes('vm1'), 'the VM list');
		const lines = frame.split('\n');
		expect(lines.length).toBeLessThanOrEqual(24);
		expect(Math.max(...lines.map(line => [...line].length))).toBeLessThanOrEqual(80);
		expect(lines.at(-1)).toMatch(/^Enter\/l open {2}t take {2}\/ filter/);

		const keymap = buildKeymap();
		// Each screen, reached by its key from the list, and the label its help names it by.
		const screens: Array<[Context, Command | null, string]> = [
			['list', null, 'the VM list'],
			['tree', 'open', 'the snapshot tree'],
			['backups', 'backups', 'the backup points'],
			['health', 'health', 'the health view'],
			['log', 'log', 'the journal'],
			['jobs', 'jobs', 'the jobs screen'],
		];
		for (const [context, key, label] of screens) {
			if (key) ui.press(key);
			ui.press('help');
			frame = await ui.waitFor(frame => frame.includes(`Keys on ${label}`), `the help of ${label}`);
			expect(frame.split('\n').length).toBeLessThanOrEqual(24);
			// Every command of this screen, with its whole description; none of another screen's.
			for (const command of keymap.commandsIn(context))
				expect(frame, `${context}: ${command}`).toContain(COMMANDS[command].description);
			for (const command of ['revert', 'restore', 'verifyRestore', 'connection'] as const) {
				if (!keymap.commandsIn(context).includes(command))
					expect(frame, `${context} lists ${command}`).not.toContain(COMMANDS[command].description);
			}
			expect(frame).not.toContain('…');
			expect(frame).not.toContain('lines 1-');
			ui.press('dismiss');
			await ui.waitFor(frame => !frame.includes('Keys on'), 'the help closed');
			if (key) ui.press('back');
			await ui.waitFor(frame => frame.includes('VMs (1)'), 'the list again');
		}
	});

	it('an override in the config replaces the key everywhere: input, help bar', async () => {
		const lab = memoryLab();
		const keymap = buildKeymap({take: ['s']});
		const ui = renderApp(lab.service, {keymap});
		await ui.waitFor(frame => frame.includes('vm1'), 'the VM list');
		expect(ui.frame()).toContain(`${displayKey('s')} take`);
		ui.type('t');
		ui.type('s');
		await ui.waitFor(frame => frame.includes('Take a snapshot of vm1'), 'the take dialog on the new key');
	});

	it("applies the configuration's keymap once it has loaded after the first frame, and shows a broken one", async () => {
		const lab = memoryLab();
		const ui = renderApp(lab.service, {loadKeymap: async () => buildKeymap({take: ['s']})});
		await ui.waitFor(
			frame => frame.includes(`${displayKey('s')} take`) && frame.includes('vm1'),
			'the overridden help bar',
		);
		ui.type('s');
		await ui.waitFor(frame => frame.includes('Take a snapshot of vm1'), 'the take dialog on the configured key');

		const broken = renderApp(lab.service, {
			loadKeymap: async () => Promise.reject(new Error('config.json: keymap: expected array')),
		});
		await broken.waitFor(
			frame => frame.includes('configuration not used: config.json: keymap: expected array') && frame.includes('vm1'),
			'the notice',
		);
	});

	it('reports overrides it cannot use instead of failing', () => {
		const keymap = buildKeymap({frobnicate: ['x'], take: ['ctrl+shift+alt+t']});
		expect(keymap.problems).toEqual([
			expect.stringContaining("unknown command 'frobnicate'"),
			expect.stringContaining('keymap.take: unusable key'),
		]);
	});

	it('filters the list with /', async () => {
		const lab = memoryLab('web1');
		const ui = renderApp(lab.service);
		await ui.waitFor(frame => frame.includes('web1'), 'the VM list');
		ui.press('filter');
		ui.type('zzz');
		await ui.waitFor(
			frame => frame.includes('VMs (0 matching "zzz")') && frame.includes('no VM matches "zzz": Esc clears the filter'),
			'an empty filtered list that says so',
		);
		ui.press('dismiss');
		await ui.waitFor(frame => frame.includes('VMs (1)'), 'the whole list again');
		// A filter accepted with Enter stays in force; Esc on the list clears it.
		ui.press('filter');
		ui.type('zz');
		ui.press('submit');
		await ui.waitFor(
			frame => frame.includes('VMs (0 matching "zz")') && frame.includes('filter: zz'),
			'the filter in force',
		);
		ui.press('clearFilter');
		await ui.waitFor(frame => frame.includes('VMs (1)') && !frame.includes('filter: zz'), 'the filter cleared');
	});
});

describe('the cursor follows a VM, not a row', () => {
	it('stays on the selected VM when a refresh brings a VM in above it, so the next key acts on the same VM', async () => {
		const lab = memoryLab('m2');
		const addVm = (name: string) => lab.hypervisor.addVm(name, ['vda'], 1);
		addVm('m1');
		const ui = renderApp(lab.service);
		await ui.waitFor(frame => frame.includes('m1') && frame.includes('m2'), 'the VM list');
		ui.press('down');
		await ui.waitFor(frame => /▸ . m2/.test(frame), 'the cursor on m2');
		addVm('a0');
		ui.press('refresh');
		await ui.waitFor(frame => frame.includes('a0') && /▸ . m2/.test(frame), 'a0 above, the cursor still on m2');
		ui.press('open');
		await ui.waitFor(frame => frame.includes('VMs › m2'), "m2's tree, not the VM now in its old row");
	});

	it('follows changes made elsewhere on its own, without R, and the cursor stays put', async () => {
		const lab = memoryLab('m2');
		const ui = renderApp(lab.service, {refreshMs: 200});
		await ui.waitFor(frame => frame.includes('m2') && frame.includes('VMs (1)'), 'the VM list');
		// Another operator adds a VM above, and takes a snapshot of m2.
		lab.hypervisor.addVm('a0', ['vda'], 1);
		await lab.take('elsewhere');
		const frame = await ui.waitFor(
			frame => frame.includes('VMs (2)') && /▸ . m2 .* elsewhere/.test(frame),
			'a0 and the snapshot, with the cursor still on m2',
		);
		expect(frame).toMatch(/a0/);
	});
});

describe('keys follow what the connection can do (its roles)', () => {
	it('a key whose role the connection lacks says why on the status line and starts no job', async () => {
		const lab = memoryLab('role1');
		// A connection without backups, with the adapter's reason (as a remote libvirt host has for instant restores).
		Object.assign(lab.hypervisor, {
			roles: {...lab.hypervisor.roles, backups: undefined},
			unavailable: {backups: 'this connection keeps no backups (a test)'},
		});
		const ui = renderApp(lab.service);
		await ui.waitFor(frame => frame.includes('role1'), 'the VM list');
		ui.press('backup');
		const said = await ui.waitFor(
			frame => frame.includes('this connection keeps no backups (a test)'),
			'the reason on the status line',
		);
		expect(said).not.toContain('Back up role1');
		expect(said).not.toMatch(/backup of role1/);
	});

	it('keys typed while a plan is being made wait for it: none acts on the screen behind, and Esc cancels the change', async () => {
		const lab = memoryLab(['web9', 'web8']);
		await lab.take('s1');
		await lab.write(0xb2, 1);
		// The hypervisor is slow to answer: a plan comes only when the test lets it (or the change is cancelled).
		let letPlan = () => {};
		const service = {
			...lab.service,
			perform: async (...args: Parameters<typeof lab.service.perform>) => {
				const signal = args[1].signal;
				await new Promise<void>(resolve => {
					letPlan = resolve;
					signal?.addEventListener('abort', () => resolve());
				});
				return lab.service.perform(...args);
			},
		};
		const ui = renderApp(service);
		await ui.waitFor(frame => /▸ . web8/.test(frame), 'the list');
		ui.press('down');
		await ui.waitFor(frame => /▸ . web9/.test(frame), 'on web9');
		ui.press('open');
		await ui.waitFor(frame => frame.includes('web9: 1 snapshot') && /▸ s1 /.test(frame), "web9's tree, on s1");
		ui.press('revert');
		await ui.waitFor(
			frame => frame.includes("planning revert web9 to 's1'… keys wait; Esc cancels"),
			'the wait for the plan',
		);
		// Typed ahead: the VM's name (b: a backup on the tree), Enter, h (back), q (quit) and a cursor key.
		ui.type('web9');
		ui.press('open');
		ui.type('h');
		ui.type('q');
		ui.press('up');
		// Each key went somewhere by the time this one is handled: a filter key would open the filter here.
		ui.press('help');
		await new Promise(resolve => setTimeout(resolve, 200));
		expect(ui.frame()).toContain("planning revert web9 to 's1'… keys wait; Esc cancels");
		expect(ui.frame()).toContain('VMs › web9');
		letPlan();
		const plan = await ui.waitFor(frame => frame.includes('Type web9 to proceed'), 'the plan');
		// Nothing typed ahead reached the screen behind or the plan: still web9's tree, no backup, the name not typed.
		expect(plan).toContain('Type web9 to proceed: ');
		expect(plan).not.toContain('Type web9 to proceed: web9');
		expect(plan).not.toContain('backup of web9');
		ui.press('dismiss');
		await ui.waitFor(frame => frame.includes("· revert web9 to 's1'"), 'the declined revert');
		expect(ui.frame()).toContain('VMs › web9');
		expect(ui.frame()).not.toContain('planning');

		// Esc while the plan is being made cancels the change: no plan is shown, nothing is changed.
		const before = lab.definition('web9');
		ui.press('revert');
		await ui.waitFor(frame => frame.includes("planning revert web9 to 's1'"), 'the wait again');
		ui.press('dismiss');
		await ui.waitFor(frame => frame.includes("cancelled: revert web9 to 's1'"), 'the change cancelled');
		await new Promise(resolve => setTimeout(resolve, 100));
		expect(ui.frame()).not.toContain('Type web9 to proceed');
		expect(lab.definition('web9')).toEqual(before);
	});

	it('Esc lets go of the held keys even when the change does not stop at once: the screen takes keys again', async () => {
		const lab = memoryLab('web9');
		await lab.take('s1');
		// A hypervisor that never answers and takes no notice of the cancel.
		const service = {...lab.service, perform: () => new Promise<never>(() => undefined)};
		const ui = renderApp(service);
		await ui.waitFor(frame => /▸ . web9/.test(frame), 'the list');
		ui.press('open');
		await ui.waitFor(frame => frame.includes('web9: 1 snapshot') && /▸ s1 /.test(frame), "web9's tree, on s1");
		ui.press('revert');
		await ui.waitFor(frame => frame.includes("planning revert web9 to 's1'"), 'the wait for the plan');
		ui.press('dismiss');
		await ui.waitFor(frame => frame.includes("cancelled: revert web9 to 's1'"), 'the cancel said');
		// The screen has its keys back: h goes back to the list.
		ui.type('h');
		const list = await ui.waitFor(frame => !frame.includes('VMs › web9'), 'the VM list again');
		expect(list).not.toContain('keys wait');
	});

	it('a key in the same read as the one that starts a change waits with the rest: it does not act on the screen behind', async () => {
		const lab = memoryLab('web9');
		await lab.take('s1');
		let letPlan = () => {};
		const service = {
			...lab.service,
			perform: async (...args: Parameters<typeof lab.service.perform>) => {
				await new Promise<void>(resolve => (letPlan = resolve));
				return lab.service.perform(...args);
			},
		};
		const ui = renderApp(service);
		await ui.waitFor(frame => /▸ . web9/.test(frame), 'the list');
		ui.press('open');
		await ui.waitFor(frame => frame.includes('web9: 1 snapshot') && /▸ s1 /.test(frame), "web9's tree, on s1");
		// r (revert) and h (back), as one paste or one SSH packet delivers them.
		ui.type('rh');
		await ui.waitFor(frame => frame.includes("planning revert web9 to 's1'"), 'the wait for the plan');
		letPlan();
		const plan = await ui.waitFor(frame => frame.includes('Type web9 to proceed'), 'the plan');
		expect(plan).toContain('VMs › web9');
		ui.press('dismiss');
		await ui.waitFor(frame => frame.includes("· revert web9 to 's1'"), 'the declined revert');
		expect(ui.frame()).toContain('VMs › web9');
	});
});
