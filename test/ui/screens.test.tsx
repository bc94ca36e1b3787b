import {mkdir, writeFile} from 'node:fs/promises';
import path from 'node:path';
import {describe, expect, it} from 'vitest';
import {writeVmFile} from '../../source/adapters/local/vm-file.js';
import {initialState, reduce} from '../../source/ui/state.js';
import {restoreEnvAfterEach} from '../helpers/env.js';
import {labWithVm, qemuImg} from '../helpers/lab.js';
import {renderApp} from '../helpers/ui.js';

/** Another VM in the lab's folder, as another operator would add it. */
async function addVm(root: string, name: string) {
	const folder = path.join(root, name);
	await mkdir(folder);
	await qemuImg.create(path.join(folder, 'vda.qcow2'), {size: 1 << 20});
	await writeVmFile(folder, {version: 1, name, description: '', qmp: null, current: null, snapshots: [], disks: [{target: 'vda', file: 'vda.qcow2'}]});
	return folder;
}

restoreEnvAfterEach('SNAPDECK_QEMU_IMG');

describe('screens', () => {
	it('Home/End and g/G go to the first and last row, and the next key acts on the VM there', async () => {
		const lab = await labWithVm('b1');
		await addVm(lab.root, 'a1');
		await addVm(lab.root, 'c1');
		const ui = renderApp(lab.service);
		await ui.waitFor(frame => /▸ . a1/.test(frame) && frame.includes('c1'), 'the list, on a1');
		ui.press('bottom');
		await ui.waitFor(frame => /▸ . c1/.test(frame), 'G: the last VM');
		ui.press('top');
		await ui.waitFor(frame => /▸ . a1/.test(frame), 'g: the first VM');
		ui.type('\x1b[F');
		await ui.waitFor(frame => /▸ . c1/.test(frame), 'End: the last VM');
		ui.type('\x1b[H');
		await ui.waitFor(frame => /▸ . a1/.test(frame), 'Home: the first VM');
		ui.press('bottom');
		ui.press('open');
		await ui.waitFor(frame => frame.includes('VMs › c1'), "c1's tree");
	});

	it('a key of another screen says where it works; a key of none says where the keys are listed', async () => {
		const lab = await labWithVm('k1');
		const ui = renderApp(lab.service);
		await ui.waitFor(frame => frame.includes('k1'), 'the list');
		ui.type('r');
		await ui.waitFor(frame => frame.includes('r (revert to selected) works on the snapshot tree, not on the VM list'), 'why r does nothing here');
		ui.type('x');
		await ui.waitFor(frame => frame.includes('x (extract file or folder) works on the files of a point, not on the VM list'), 'x explained');
		ui.type('z');
		await ui.waitFor(frame => frame.includes('z: no key here (? lists the keys of the VM list)'), 'z explained');
		ui.press('open');
		await ui.waitFor(frame => frame.includes('k1: 0 snapshots'), 'the tree');
		ui.press('revert');
		await ui.waitFor(frame => frame.includes('select a snapshot first'), 'why revert cannot act: no snapshot');
	});

	it('Enter on a finding shows it whole, with the key that fixes it', async () => {
		const lab = await labWithVm('f1');
		const ui = renderApp(lab.service);
		await ui.waitFor(frame => /! f1/.test(frame), 'the warning badge');
		ui.press('health');
		await ui.waitFor(frame => frame.includes('f1 has no backup'), 'the finding');
		ui.press('open');
		const frame = await ui.waitFor(frame => frame.includes('Finding on f1'), 'the finding whole');
		expect(frame.replace(/[│\s]+/g, ' ')).toContain('warning on f1 (rule backup-missing) f1 has no backup: snapshots are not backups fix: b (backup)');
		ui.press('dismiss');
		await ui.waitFor(frame => !frame.includes('Finding on f1') && frame.includes('Health of 1 VM'), 'the health view again');
	});

	it('the jobs screen lists running and ended jobs, cancels the selected one (not the newest), and shows a job with its log', async () => {
		const lab = await labWithVm('j1');
		await addVm(lab.root, 'j2');
		// A qemu-img whose 'create' (the first step of a take) takes 3 s: both takes are running at once.
		const script = path.join(lab.root, 'slow-qemu-img');
		await writeFile(script, '#!/bin/sh\nif [ "$1" = create ]; then sleep 3; fi\nexec qemu-img "$@"\n', {mode: 0o755});
		process.env['SNAPDECK_QEMU_IMG'] = script;
		const ui = renderApp(lab.service);
		await ui.waitFor(frame => /▸ . j1/.test(frame), 'the list on j1');
		for (const vm of ['j1', 'j2']) {
			ui.press('take');
			await ui.waitFor(frame => frame.includes(`Take a snapshot of ${vm}`), `the take dialog of ${vm}`);
			ui.press('submit');
			await ui.waitFor(frame => frame.includes('Proceed?'), `the plan for ${vm}`);
			ui.press('confirm');
			await ui.waitFor(frame => new RegExp(`of ${vm} running`).test(frame), `the take of ${vm} running`);
			ui.press('down');
		}
		// Both VMs are busy with this window's jobs: the list says so, and their changing keys say why.
		ui.press('up');
		await ui.waitFor(frame => /▸ . j1 +busy/.test(frame) && /j2 +busy/.test(frame), 'both VMs busy');
		ui.press('take');
		await ui.waitFor(frame => frame.includes("j1 is busy: job 1 here (take '"), 'why take does not open');
		ui.press('jobs');
		await ui.waitFor(frame => frame.includes('Jobs of this window: 2 running, 0 ended') && /▸ . 2 +take '\S+' of j2 running/.test(frame), 'both jobs, the cursor on the newest');
		ui.press('up');
		await ui.waitFor(frame => /▸ . 1 +take '\S+' of j1/.test(frame), 'the cursor on the older job');
		ui.press('cancelJob');
		await ui.waitFor(frame => /take '\S+' of j1 cancelled/.test(frame) && /take '\S+' of j2 done/.test(frame), 'j1 cancelled, j2 done');
		ui.press('open');
		const top = await ui.waitFor(frame => frame.includes("Job 1: take '"), 'the job whole');
		expect(top.replace(/[│\s]+/g, ' ')).toMatch(/cancelled: started \S+ \S+, ended \S+ \S+ after \d+\.\d s/);
		// Its log, scrolled to the end.
		ui.press('bottom');
		const end = await ui.waitFor(frame => /lines \d+-(\d+) of \1/.test(frame), 'the end of the job');
		expect(end).toMatch(/\d\d:\d\d:\d\d step 1\/2: vda: create overlay/);
		expect(end).toMatch(/\d\d:\d\d:\d\d cancel asked/);
		expect(end).toMatch(/\d\d:\d\d:\d\d cancelled: take of j1 was cancelled/);
		ui.press('dismiss');
		ui.press('cancelJob');
		await ui.waitFor(frame => frame.includes('job 1 has ended (cancelled): nothing to cancel'), 'an ended job cannot be cancelled, and says so');
		// The data: the cancelled take recorded no snapshot (recover finishes or undoes it); the other one made its snapshot.
		const {readFile} = await import('node:fs/promises');
		const snapshots = async (vm: string) => (JSON.parse(await readFile(path.join(lab.root, vm, 'vm.json'), 'utf8')) as {snapshots: unknown[]}).snapshots.length;
		expect(await snapshots('j1')).toBe(0);
		expect(await snapshots('j2')).toBe(1);
	});
});

describe('the UI state: one reducer over a tagged union', () => {
	it('a plan arriving over a dialog being filled in covers it, and the dialog is back as it was after the answer', () => {
		const form = {vm: 'v', point: 'p', name: 'half-typed'};
		let state = reduce(initialState, {type: 'open', overlay: {kind: 'restore', form, at: 3}});
		state = reduce(state, {type: 'confirm', jobId: 7});
		expect(state.overlay?.kind).toBe('confirm');
		state = reduce(state, {type: 'close'});
		expect(state.overlay).toEqual({kind: 'restore', form, at: 3});
	});

	it('the cursor holds its item when rows move, and takes the row when its item is gone', () => {
		let state = reduce(initialState, {type: 'select', screen: 'list', keys: ['a', 'b', 'c'], row: 1});
		expect(state.cursors.list).toEqual({key: 'b', index: 1});
		// Going to another screen and back keeps it.
		state = reduce(reduce(state, {type: 'go', screen: 'tree', vm: 'b'}), {type: 'go', screen: 'list', at: 'keep'});
		expect(state.cursors.list).toEqual({key: 'b', index: 1});
		expect(state.cursors.tree).toEqual({key: null, index: 0});
	});
});

describe('the help bar', () => {
	it('shows whole keys only, the help key always, and fits every screen and dialog at 80 and 40 columns', async () => {
		const {buildKeymap, COMMANDS} = await import('../../source/ui/keymap.js');
		const {barItems} = await import('../../source/ui/components/help-bar.js');
		const keymap = buildKeymap();
		const contexts = [...new Set(Object.values(COMMANDS).flatMap(command => command.contexts))];
		for (const width of [80, 40]) {
			for (const context of contexts) {
				const items = barItems(keymap, context, width);
				const line = items.map(item => `${item.keys} ${COMMANDS[item.command].short}`).join('  ');
				expect([...line].length, `${context} at ${width}: ${line}`).toBeLessThanOrEqual(width);
				if (keymap.commandsIn(context).includes('help')) expect(items.map(item => item.command)).toContain('help');
			}
		}
		// The backup points at 80 columns: each of their own keys, V among them.
		const points = barItems(keymap, 'backups', 80).map(item => item.keys);
		for (const key of ['Enter/l', 'v', 'V', 'o', 'P', 'b', '?']) expect(points, points.join(' ')).toContain(key);
	});
});
