import path from 'node:path';
import {execa} from 'execa';
import {describe, expect, it} from 'vitest';
import {buildKeymap, COMMANDS, displayKey} from '../../source/ui/keymap.js';
import {labWithVm} from '../helpers/lab.js';
import {renderApp} from '../helpers/ui.js';

/** The backing chain as qemu-img sees it, top first, as file names. */
async function chainOf(file: string): Promise<string[]> {
	const {stdout} = await execa('qemu-img', ['info', '-U', '--backing-chain', '--output=json', file]);
	return (JSON.parse(stdout) as Array<{filename: string}>).map(layer => path.basename(layer.filename));
}

describe('the terminal UI on a real lab', () => {
	it('takes, reverts and merges a snapshot by keys alone, showing the plan first, and the disk follows', async () => {
		const lab = await labWithVm('web9');
		await lab.write(0xa1, 1);
		const ui = renderApp(lab.service);
		await ui.waitFor(frame => frame.includes('web9') && frame.includes('stopped'), 'the VM list');

		ui.press('open');
		await ui.waitFor(frame => frame.includes('no snapshots yet'), 'the empty tree');

		// Take: the dialog offers a timestamp name; replace it with our own.
		ui.press('take');
		await ui.waitFor(frame => frame.includes('Take a snapshot of web9') && frame.includes('snap-20261125-120000'), 'the take dialog with a default name');
		ui.type('\x7f'.repeat('snap-20261125-120000'.length));
		ui.type('before-upgrade');
		ui.press('submit');
		await ui.waitFor(frame => frame.includes('Creates: vda.before-upgrade.qcow2') && frame.includes('Proceed?'), 'the plan of the snapshot');
		ui.press('confirm');
		await ui.waitFor(frame => /before-upgrade .*◀ you are here/.test(frame), 'the new snapshot as current');
		expect(await chainOf(await lab.activeFile())).toEqual(['vda.before-upgrade.qcow2', 'vda.qcow2']);

		// The guest writes B; revert brings A back.
		await lab.write(0xb2, 1);
		ui.press('revert');
		await ui.waitFor(frame => frame.includes("Plan: revert web9 to external snapshot 'before-upgrade'") && frame.includes('Discards'), 'the revert plan');
		ui.press('confirm');
		await ui.waitFor(frame => frame.includes("✓ revert web9 to 'before-upgrade' done"), 'the revert done');
		expect(await lab.reads(0xa1, 1)).toBe(true);
		expect(await lab.reads(0xb2, 1)).toBe(false);

		// Merge it away: the tree empties, the data stays.
		ui.press('merge');
		await ui.waitFor(frame => frame.includes("Plan: merge away external snapshot 'before-upgrade'"), 'the merge plan');
		ui.press('confirm');
		await ui.waitFor(frame => frame.includes('no snapshots yet'), 'the tree after the merge');
		expect(await lab.reads(0xa1, 1)).toBe(true);
		expect((await chainOf(await lab.activeFile())).length).toBe(1);
	});

	it('changes nothing when the confirmation is declined', async () => {
		const lab = await labWithVm();
		await lab.take('s1');
		const before = JSON.stringify(await lab.vmFile());
		const ui = renderApp(lab.service);
		await ui.waitFor(frame => frame.includes('vm1'), 'the VM list');
		ui.press('open');
		await ui.waitFor(frame => frame.includes('vm1: 1 snapshot'), 'the tree');
		ui.press('merge');
		await ui.waitFor(frame => frame.includes('Proceed?'), 'the merge plan');
		ui.press('deny');
		await ui.waitFor(frame => frame.includes('declined: nothing was changed'), 'the declined job');
		expect(JSON.stringify(await lab.vmFile())).toBe(before);
	});

	it('shows a refusal as a readable message, not a crash', async () => {
		const lab = await labWithVm();
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
		const lab = await labWithVm('aaa');
		const ui = renderApp(lab.service);
		await ui.waitFor(frame => frame.includes('aaa'), 'the VM list');
		ui.type('t\x1b');
		ui.type('jj\r');
		await ui.waitFor(frame => frame.includes('aaa: 0 snapshots'), 'the tree opened by Enter in the same read');
	});
});

describe('keys and help come from one keymap table', () => {
	it('the help bar and the ? screen list the keymap, and fit 80 columns', async () => {
		const lab = await labWithVm();
		const ui = renderApp(lab.service);
		let frame = await ui.waitFor(frame => frame.includes('vm1'), 'the VM list');
		const lines = frame.split('\n');
		expect(lines.length).toBeLessThanOrEqual(24);
		expect(Math.max(...lines.map(line => [...line].length))).toBeLessThanOrEqual(80);
		expect(lines.at(-1)).toMatch(/^Enter\/l open {2}t take {2}\/ filter/);

		ui.press('help');
		frame = await ui.waitFor(frame => frame.includes('Snapshots') && frame.includes('Dialogs'), 'the help screen');
		expect(frame.split('\n').length).toBeLessThanOrEqual(24);
		// Every command, with its whole description: nothing cut off at 80 columns.
		for (const command of Object.keys(COMMANDS) as Array<keyof typeof COMMANDS>) {
			expect(frame).toContain(COMMANDS[command].description);
		}
		expect(frame).not.toContain('…');
		ui.press('dismiss');
		await ui.waitFor(frame => !frame.includes('Dialogs') && frame.includes('vm1'), 'the list again');
	});

	it('an override in the config replaces the key everywhere: input, help bar', async () => {
		const lab = await labWithVm();
		const keymap = buildKeymap({take: ['s']});
		const ui = renderApp(lab.service, {keymap});
		await ui.waitFor(frame => frame.includes('vm1'), 'the VM list');
		expect(ui.frame()).toContain(`${displayKey('s')} take`);
		ui.type('t');
		ui.type('s');
		await ui.waitFor(frame => frame.includes('Take a snapshot of vm1'), 'the take dialog on the new key');
	});

	it('applies the configuration\'s keymap once it has loaded after the first frame, and shows a broken one', async () => {
		const lab = await labWithVm();
		const ui = renderApp(lab.service, {loadKeymap: async () => buildKeymap({take: ['s']})});
		await ui.waitFor(frame => frame.includes(`${displayKey('s')} take`) && frame.includes('vm1'), 'the overridden help bar');
		ui.type('s');
		await ui.waitFor(frame => frame.includes('Take a snapshot of vm1'), 'the take dialog on the configured key');

		const broken = renderApp(lab.service, {loadKeymap: async () => Promise.reject(new Error('config.json: keymap: expected array'))});
		await broken.waitFor(frame => frame.includes('configuration not used: config.json: keymap: expected array') && frame.includes('vm1'), 'the notice');
	});

	it('reports overrides it cannot use instead of failing', () => {
		const keymap = buildKeymap({frobnicate: ['x'], take: ['ctrl+shift+alt+t']});
		expect(keymap.problems).toEqual([
			expect.stringContaining("unknown command 'frobnicate'"),
			expect.stringContaining('keymap.take: unusable key'),
		]);
	});

	it('filters the list with /', async () => {
		const lab = await labWithVm('web1');
		await labWithVm('db1');
		const ui = renderApp(lab.service);
		await ui.waitFor(frame => frame.includes('web1'), 'the VM list');
		ui.press('filter');
		ui.type('zzz');
		await ui.waitFor(frame => frame.includes('VMs (0 matching "zzz")'), 'an empty filtered list');
		ui.press('dismiss');
		await ui.waitFor(frame => frame.includes('VMs (1)'), 'the whole list again');
	});
});

describe('the cursor follows a VM, not a row', () => {
	it('stays on the selected VM when a refresh brings a VM in above it, so the next key acts on the same VM', async () => {
		const lab = await labWithVm('m2');
		const {mkdir} = await import('node:fs/promises');
		const {writeVmFile} = await import('../../source/adapters/local/vm-file.js');
		const {qemuImg} = await import('../helpers/lab.js');
		const addVm = async (name: string) => {
			const folder = path.join(lab.root, name);
			await mkdir(folder);
			await qemuImg.create(path.join(folder, 'vda.qcow2'), {size: 1 << 20});
			await writeVmFile(folder, {version: 1, name, description: '', qmp: null, current: null, snapshots: [], disks: [{target: 'vda', file: 'vda.qcow2'}]});
		};
		await addVm('m1');
		const ui = renderApp(lab.service);
		await ui.waitFor(frame => frame.includes('m1') && frame.includes('m2'), 'the VM list');
		ui.press('down');
		await ui.waitFor(frame => /▸ . m2/.test(frame), 'the cursor on m2');
		await addVm('a0');
		ui.press('refresh');
		await ui.waitFor(frame => frame.includes('a0') && /▸ . m2/.test(frame), 'a0 above, the cursor still on m2');
		ui.press('open');
		await ui.waitFor(frame => frame.includes('VMs › m2'), "m2's tree, not the VM now in its old row");
	});
});
