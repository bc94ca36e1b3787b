import {describe, expect, it} from 'vitest';
import {initialState, reduce} from '../../source/ui/state.js';
import {memoryLab} from '../helpers/memory-lab.js';
import {renderApp} from '../helpers/ui.js';

describe('screens', () => {
	it('Home/End and g/G go to the first and last row, and the next key acts on the VM there', async () => {
		const lab = memoryLab(['b1', 'a1', 'c1'], {sizeMiB: 1});
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
		const lab = memoryLab('k1');
		const ui = renderApp(lab.service);
		await ui.waitFor(frame => frame.includes('k1'), 'the list');
		ui.type('r');
		await ui.waitFor(
			frame => frame.includes('r (revert to selected) works on the snapshot tree, not on the VM list'),
			'why r does nothing here',
		);
		ui.type('x');
		await ui.waitFor(
			frame => frame.includes('x (extract file or folder) works on the files of a point, not on the VM list'),
			'x explained',
		);
		ui.type('z');
		await ui.waitFor(frame => frame.includes('z: no key here (? lists the keys of the VM list)'), 'z explained');
		ui.press('open');
		await ui.waitFor(frame => frame.includes('k1: 0 snapshots'), 'the tree');
		ui.press('revert');
		await ui.waitFor(frame => frame.includes('select a snapshot first'), 'why revert cannot act: no snapshot');
	});

	it('Enter on a finding shows it whole, with the key that fixes it', async () => {
		const lab = memoryLab('f1');
		const ui = renderApp(lab.service);
		await ui.waitFor(frame => /! f1/.test(frame), 'the warning badge');
		ui.press('health');
		await ui.waitFor(frame => frame.includes('f1 has no backup'), 'the finding');
		ui.press('open');
		const frame = await ui.waitFor(frame => frame.includes('Finding on f1'), 'the finding whole');
		expect(frame.replace(/[│\s]+/g, ' ')).toContain(
			'warning on f1 (rule backup-missing) f1 has no backup: snapshots are not backups fix: b (backup)',
		);
		ui.press('dismiss');
		await ui.waitFor(
			frame => !frame.includes('Finding on f1') && frame.includes('Health of 1 VM'),
			'the health view again',
		);
	});

	it('a finding fixed by a merge says where the merge is done: in the tree, not by Enter here (which shows the finding)', async () => {
		const lab = memoryLab('m1');
		// A snapshot taken long ago: older than the policy's 30 days.
		await lab.service.perform(
			{kind: 'take', vm: 'm1', request: {name: 'old1', kind: 'external', now: new Date('2025-01-01T00:00:00Z')}},
			{command: 'test', confirm: async () => true},
		);
		const ui = renderApp(lab.service);
		ui.press('health');
		await ui.waitFor(frame => /snapshot 'old1' is \d+d old/.test(frame), 'the old snapshot found');
		ui.resize(160, 24);
		await ui.waitFor(frame => frame.includes('[m in the tree to merge]'), 'the row says where the merge is done');
		ui.press('open');
		const frame = await ui.waitFor(frame => frame.includes('Finding on m1'), 'the finding whole');
		expect(frame.replace(/[│\s]+/g, ' ')).toContain(
			'fix: Esc to the VM list, Enter on m1, then m on the snapshot (merge)',
		);
		expect(frame).not.toContain('Enter on the list');
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
