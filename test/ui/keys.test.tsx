import {describe, expect, it} from 'vitest';
import {memoryLab} from '../helpers/memory-lab.js';
import {rawKey, renderApp} from '../helpers/ui.js';

/** A lab of the VMs named, as the demo lab has them: the list sorts them app1, db1, live1, web1. */
const labOf = (names: string[]) => memoryLab(names, {sizeMiB: 1});

const selected = (frame: string) => /▸ . (\S+)/.exec(frame)?.[1];

describe('the cursor keeps its VM through filters', () => {
	it('clearing or changing a filter leaves the cursor on the VM it was on while that VM is shown; the next key acts on it', async () => {
		const lab = labOf(['web1', 'app1', 'db1', 'live1']);
		const ui = renderApp(lab.service);
		await ui.waitFor(frame => selected(frame) === 'app1' && frame.includes('web1'), 'the list on app1');
		ui.press('filter');
		ui.type('1');
		ui.press('submit');
		ui.press('bottom');
		await ui.waitFor(
			frame => selected(frame) === 'web1' && frame.includes('filter: 1'),
			'web1 selected in the filtered list',
		);
		// Esc on the list clears the filter: still on web1 (not on app1, the first row).
		ui.press('clearFilter');
		await ui.waitFor(frame => frame.includes('VMs (4)') && !frame.includes('filter: 1'), 'the filter cleared');
		expect(selected(ui.frame())).toBe('web1');
		// A filter that still shows it keeps it; one that hides it lands on the first VM shown.
		ui.press('filter');
		ui.type('e');
		await ui.waitFor(frame => frame.includes('VMs (2 matching "e")'), 'the filter e');
		expect(selected(ui.frame())).toBe('web1');
		ui.type(rawKey('backspace'));
		ui.type('d');
		await ui.waitFor(
			frame => frame.includes('VMs (1 matching "d")') && selected(frame) === 'db1',
			'db1 the only one shown',
		);
		// Esc while typing clears the filter too: the cursor stays on db1, and Enter opens db1.
		ui.press('dismiss');
		await ui.waitFor(frame => frame.includes('VMs (4)'), 'the filter gone');
		expect(selected(ui.frame())).toBe('db1');
		ui.press('open');
		await ui.waitFor(frame => frame.includes('VMs › db1'), "db1's tree");
	});
});

describe('text fields and dialogs: the keys readline users expect', () => {
	it('Ctrl-C closes the filter field; a second Ctrl-C quits', async () => {
		const lab = labOf(['web1', 'db1']);
		const ui = renderApp(lab.service);
		await ui.waitFor(frame => frame.includes('web1'), 'the list');
		ui.press('filter');
		ui.type('we');
		await ui.waitFor(frame => frame.includes('filter: we▏'), 'the filter being typed');
		ui.type(rawKey('ctrl+c'));
		await ui.waitFor(frame => frame.includes('VMs (2)') && !frame.includes('filter:'), 'the filter closed');
		expect(ui.exited()).toBe(false);
		ui.type(rawKey('ctrl+c'));
		await ui.waitForExit();
	});

	it('Ctrl-C closes the take dialog and declines a plan; Shift-Tab goes back a field; Delete and the arrows edit in the text', async () => {
		const lab = labOf(['web1']);
		const ui = renderApp(lab.service);
		await ui.waitFor(frame => frame.includes('web1'), 'the list');
		ui.press('take');
		await ui.waitFor(frame => frame.includes('Take a snapshot of web1'), 'the take dialog');
		ui.type(rawKey('ctrl+c'));
		await ui.waitFor(frame => !frame.includes('Take a snapshot'), 'the dialog closed by Ctrl-C');
		expect(ui.exited()).toBe(false);

		ui.press('take');
		await ui.waitFor(frame => frame.includes('Take a snapshot of web1'), 'the take dialog again');
		ui.type(rawKey('ctrl+u'));
		ui.type('nightly');
		ui.press('nextField');
		ui.type('dscription');
		// Back to the name with Shift-Tab: Home, Delete, the right arrow and a letter edit it in the middle.
		ui.type(rawKey('shift+tab'));
		ui.type(`${rawKey('home')}${rawKey('delete')}N${rawKey('right')}${rawKey('right')}X`);
		await ui.waitFor(frame => frame.includes('Name:        NigX▏htly'), 'the name edited after Shift-Tab');
		ui.type(rawKey('delete'));
		ui.press('nextField');
		ui.type(`${rawKey('home')}${rawKey('right')}e`);
		await ui.waitFor(frame => frame.includes('Description: de▏scription'), 'the description edited');
		ui.press('submit');
		await ui.waitFor(
			frame => frame.includes("Plan: take external snapshot 'NigXtly'") && frame.includes('Proceed?'),
			'the plan',
		);
		ui.type(rawKey('ctrl+c'));
		await ui.waitFor(frame => frame.includes('declined: nothing was changed'), 'the plan declined by Ctrl-C');
		expect(ui.exited()).toBe(false);
		expect(lab.definition().snapshots).toEqual([]);
	});
});
