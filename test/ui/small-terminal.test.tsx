import {render} from 'ink-testing-library';
import {describe, expect, it} from 'vitest';
import {BackupList} from '../../source/ui/components/backup-list.js';
import {TakeDialog} from '../../source/ui/components/dialogs.js';
import {ThemeContext, themeFor} from '../../source/ui/theme.js';
import {backupPoint} from '../core/fixtures.js';
import {buildKeymap, COMMANDS} from '../../source/ui/keymap.js';
import {memoryLab} from '../helpers/memory-lab.js';
import {rawKey, renderApp, stripAnsi} from '../helpers/ui.js';

describe('dialogs and the help in small and large terminals', () => {
	it('at 40x12 the take dialog keeps its title and fields in view; a long description scrolls with its cursor; an invalid name is said whole', async () => {
		const lab = memoryLab('web1');
		const ui = renderApp(lab.service);
		ui.resize(40, 12);
		await ui.waitFor(frame => frame.includes('web1'), 'the list');
		ui.press('take');
		const dialog = await ui.waitFor(
			frame => frame.includes('Take a snapshot of web1'),
			'the take dialog with its title',
		);
		const lines = dialog.split('\n');
		expect(lines.length).toBeLessThanOrEqual(11);
		expect(lines.findIndex(line => line.includes('Take a snapshot of web1'))).toBeLessThan(
			lines.findIndex(line => line.includes('Name:')),
		);
		for (const row of ['Name:', 'Description:', '[ ] internal', '[ ] with memory', '[ ] quiesced'])
			expect(dialog).toContain(row);
		expect(Math.max(...lines.map(line => [...line].length))).toBeLessThanOrEqual(40);
		// Why an option is not offered is said whole, not cut at the frame's edge.
		expect(dialog.match(/the VM is not running/g)).toHaveLength(2);
		expect(lines.filter(line => line.includes('[ ]') && line.includes('…'))).toEqual([]);
		ui.press('nextField');
		ui.type('before the distribution upgrade of the web server');
		await ui.waitFor(frame => frame.includes('web server▏'), 'the end of the description, with the cursor, in view');
		ui.type(rawKey('home'));
		await ui.waitFor(frame => frame.includes('▏before the'), 'its start, with the cursor');
		ui.type(rawKey('shift+tab'));
		ui.type(`${rawKey('ctrl+u')}bad name/`);
		ui.press('submit');
		const said = await ui.waitFor(frame => frame.includes('invalid name'), 'why the name is refused');
		expect(said).toContain('Take a snapshot of web1');
		const note = said
			.split('\n')
			.filter(line => /invalid name|separator/.test(line))
			.join(' ');
		expect(note).toMatch(/^invalid name: .*separator/);
		expect(note).not.toContain('…');
	});

	it('at 40 columns a long reason an option is not offered wraps under it, whole; where it fits it stays on its line', () => {
		const form = {
			...{vm: 'web1', name: 'snap-1', description: '', field: 'name' as const},
			...{internal: false, memory: false, quiesce: false, memoryUnavailable: null},
			quiesceUnavailable: 'its guest agent could not be asked: the agent socket refused the connection',
		};
		const at = (width: number) =>
			stripAnsi(
				render(
					<ThemeContext.Provider value={themeFor(true)}>
						<TakeDialog form={form} at={null} height={12} width={width} hint="keys" />
					</ThemeContext.Provider>,
				).lastFrame()!,
			);
		const narrow = at(40);
		expect(narrow).toContain('[ ] quiesced:');
		expect(narrow.replace(/[│\s]+/g, ' ')).toContain(`${form.quiesceUnavailable} `);
		expect(narrow).not.toContain('…');
		expect(narrow.split('\n').length).toBeLessThanOrEqual(12);
		expect(at(120)).toContain(`[ ] quiesced through the guest agent (${form.quiesceUnavailable})`);
	});

	it('at 40x12 the header says where the operator is; the ? screen covers the terminal but the keys and pages to its end', async () => {
		// A connection as long as a lab's folder (local:/tmp/snapdeck-test-…), too long for the line's start.
		const lab = memoryLab('a-vm-with-a-long-name-on-a-phone', {connection: '/tmp/snapdeck-test-x1Yz2W'});
		const ui = renderApp(lab.service);
		ui.resize(40, 12);
		const list = await ui.waitFor(frame => frame.includes('a-vm-with'), 'the list');
		expect(list.split('\n')[0]).toMatch(/^snapdeck · VMs \(1\) · memory:/);
		ui.press('help');
		let help = await ui.waitFor(frame => frame.includes('Keys on the VM list'), 'the help');
		expect(help.split('\n')[0]).toBe('Keys on the VM list');
		const seen = new Set<string>();
		for (let page = 0; page < 20; page++) {
			for (const line of help.split('\n')) seen.add(line.trim());
			const where = /lines (\d+)-(\d+) of (\d+)/.exec(help)!;
			if (where[2] === where[3]) break;
			ui.press('pageDown');
			help = await ui.waitFor(frame => !frame.includes(where[0]), 'the next page');
		}
		const keymap = buildKeymap();
		for (const command of keymap.commandsIn('list'))
			expect(
				[...seen].some(line => line.endsWith(COMMANDS[command].description)),
				command,
			).toBe(true);
		expect([...seen].some(line => line.startsWith('Text fields:'))).toBe(true);
	});

	it('at 40x12 the VM list keeps where each VM is and its last backup: the counts are the columns that go', async () => {
		const lab = memoryLab('web1');
		await lab.take('configured');
		const ui = renderApp(lab.service);
		ui.resize(40, 12);
		const list = await ui.waitFor(frame => frame.includes('web1'), 'the list');
		const lines = list.split('\n');
		expect(lines[1]!.trimEnd()).toMatch(/^ +NAME +STATE +BACKUP +CURRENT$/);
		expect(lines.find(line => line.includes('web1'))!.trimEnd()).toMatch(/web1 +stopped +(never|-) +configured$/);
		expect(Math.max(...lines.map(line => [...line].length))).toBeLessThanOrEqual(40);
		ui.resize(80, 24);
		await ui.waitFor(
			frame => /NAME +STATE +DISKS +SNAPS +DEPTH +BACKUP +OFFSITE +CURRENT/.test(frame),
			'every column at 80',
		);
	});

	it('at 40x12 a VM name too long for every column keeps STATE and BACKUP in view, and CURRENT goes whole, not cut', async () => {
		const lab = memoryLab('accounting-db-replica');
		await lab.take('configured');
		const ui = renderApp(lab.service);
		ui.resize(40, 12);
		const list = await ui.waitFor(frame => frame.includes('accounting'), 'the list');
		const lines = list.split('\n');
		expect(lines[1]!.trimEnd()).toMatch(/^ +NAME +STATE +BACKUP$/);
		expect(lines.find(line => line.includes('accounting'))!.trimEnd()).toMatch(
			/accounting-db-re… +stopped +(never|-)$/,
		);
		expect(Math.max(...lines.map(line => [...line].length))).toBeLessThanOrEqual(40);
		// Where the name fits with it, CURRENT is back.
		ui.resize(60, 12);
		await ui.waitFor(frame => /accounting-db-replica +stopped +(never|-) +configured/.test(frame), 'CURRENT at 60');
	});

	it('at 40 columns the backup points keep whether each is verified, and how long ago: the size is the column that goes', () => {
		const now = new Date('2026-11-27T10:00:00.000Z');
		const verified = (ok: boolean) => ({at: '2026-11-26T10:00:00.000Z', ok, restoreTest: true, message: ''});
		const points = [
			{...backupPoint('20261125T120000Z', '20261124T120000Z', 448 << 10), verified: verified(true)},
			{...backupPoint('20261124T120000Z', '20261123T120000Z', 384 << 10), verified: verified(false)},
			backupPoint('20261123T120000Z', null, 20 << 20),
		];
		const lines = (width: number) =>
			stripAnsi(
				render(
					<ThemeContext.Provider value={themeFor(true)}>
						<BackupList vm="web1" points={points} cursor={0} height={6} width={width} now={now} />
					</ThemeContext.Provider>,
				).lastFrame() ?? '',
			)
				.split('\n')
				.map(line => line.trimEnd());
		const narrow = lines(38);
		expect(narrow.slice(1, 5)).toEqual([
			'  ID               KIND  AGE VERIFIED',
			'▸ 20261125T120000Z incr   2d ok 24h',
			'  20261124T120000Z incr   2d FAILED',
			'  20261123T120000Z full   2d never',
		]);
		// From 57 columns on, every column, the verification in words.
		const wide = lines(78);
		expect(wide[1]).toMatch(/ID +KIND +AGE +SIZE +VERIFIED/);
		expect(wide[2]).toMatch(/incremental +2d +448 KiB +ok 24h ago, restore-tested$/);
	});

	it('at 40x12 the snapshot tree still marks where the VM is; a column is whole or left out (size first), and names are not cut', async () => {
		const lab = memoryLab('web1');
		await lab.take('installed');
		await lab.take('configured-for-prod');
		const ui = renderApp(lab.service);
		ui.resize(40, 12);
		await ui.waitFor(frame => frame.includes('web1'), 'the list');
		ui.press('open');
		const tree = await ui.waitFor(frame => frame.includes('web1: 2 snapshots'), 'the tree');
		const lines = tree.split('\n');
		expect(Math.max(...lines.map(line => [...line].length))).toBeLessThanOrEqual(40);
		// '└─ configured-for-prod' leaves no room for the size at 40 columns: the size column goes, whole.
		expect(lines.find(line => line.includes('configured-for-prod ◀'))).toMatch(
			/└─ configured-for-prod ◀ ext +\d+[smhd]$/,
		);
		expect(lines.find(line => line.includes('installed'))).toMatch(/^▸ installed +ext +\d+[smhd]$/);
		expect(lines.find(line => line.includes('installed'))).not.toContain('◀');
		// At 80 columns, whole: the columns, then the marker in words.
		ui.resize(80, 24);
		await ui.waitFor(
			frame => /└─ configured-for-prod +external .* ◀ you are here/.test(frame),
			'the marker in words at 80 columns',
		);
	});

	it('at 200x60 the ? screen lays its keys out across the width, and cuts no line', async () => {
		const lab = memoryLab('wide1');
		const ui = renderApp(lab.service);
		ui.resize(200, 60);
		await ui.waitFor(frame => frame.includes('wide1'), 'the list');
		ui.press('help');
		const help = await ui.waitFor(frame => frame.includes('Keys on the VM list'), 'the help');
		expect(help).not.toContain('…');
		expect(help).not.toContain('lines 1-');
		const keymap = buildKeymap();
		for (const command of keymap.commandsIn('list')) expect(help).toContain(COMMANDS[command].description);
		// Side by side: the categories in three columns or more, so the box is not mostly empty.
		const headings = help.split('\n').find(line => line.includes('Move'))!;
		expect(headings.match(/(Move|Snapshots|Backups|View|Jobs)/g)!.length).toBeGreaterThanOrEqual(3);
		const boxRows = help.split('\n').filter(line => line.startsWith('│'));
		expect(boxRows.length).toBeLessThan(20);
	});
});
