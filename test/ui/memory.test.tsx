import {describe, expect, it} from 'vitest';
import {Service} from '../../source/service/service.js';
import {MemoryHypervisor} from '../helpers/memory-hypervisor.js';
import {renderApp} from '../helpers/ui.js';

/*
 * The UI's logic on the in-memory hypervisor (test/helpers/memory-hypervisor.ts): no qemu-img, so
 * these run in milliseconds. What reaches a real disk is tested on the real lab in app.test.tsx.
 */
describe('the terminal UI over the in-memory hypervisor', () => {
	it('takes, reverts and merges by keys alone, showing each plan first, and the data follows', async () => {
		const memory = new MemoryHypervisor().addVm('mem1');
		memory.write('mem1', 1, 0xa1);
		const ui = renderApp(new Service(memory));
		await ui.waitFor(frame => frame.includes('mem1') && frame.includes('stopped'), 'the VM list');
		ui.press('open');
		await ui.waitFor(frame => frame.includes('no snapshots yet'), 'the empty tree');

		ui.press('take');
		await ui.waitFor(frame => frame.includes('Take a snapshot of mem1'), 'the take dialog');
		ui.type('\x7f'.repeat(40));
		ui.type('s1');
		ui.press('submit');
		await ui.waitFor(frame => frame.includes('Creates: vda.s1.qcow2') && frame.includes('Proceed?'), 'the plan of the snapshot');
		ui.press('confirm');
		await ui.waitFor(frame => /s1 .*◀ you are here/.test(frame), 'the new snapshot as current');

		memory.write('mem1', 1, 0xb2);
		ui.press('revert');
		await ui.waitFor(frame => frame.includes("Plan: revert mem1 to external snapshot 's1'") && frame.includes('Type mem1 to proceed'), 'the revert plan');
		ui.type('mem1');
		ui.press('submit');
		await ui.waitFor(frame => frame.includes("✓ revert mem1 to 's1' done"), 'the revert done');
		expect(memory.read('mem1', 1)).toBe(0xa1);

		memory.write('mem1', 2, 0xc3);
		ui.press('merge');
		await ui.waitFor(frame => frame.includes("Plan: merge away external snapshot 's1'"), 'the merge plan');
		ui.type('mem1');
		ui.press('submit');
		await ui.waitFor(frame => frame.includes('no snapshots yet'), 'the tree after the merge');
		expect([memory.read('mem1', 1), memory.read('mem1', 2)]).toEqual([0xa1, 0xc3]);
		expect((await memory.list())[0]!.chainDepth).toBe(1);
		expect(memory.journalOf('mem1').map(entry => `${entry.action} ${entry.outcome}`)).toEqual(['take started', 'take done', 'revert started', 'revert done', 'merge started', 'merge done']);
	});
});
