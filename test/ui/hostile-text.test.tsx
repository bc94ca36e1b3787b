import {describe, expect, it} from 'vitest';
import {HOSTILE_SHOWN, hostileMemoryLab} from '../helpers/hostile.js';
import {renderApp, stripAnsi} from '../helpers/ui.js';

/** What reached the terminal, colours aside: no control character may be in it but line breaks. */
const rawControls = (frame: string) =>
	stripAnsi(frame)
		.replace(/\n/g, '')
		.match(/[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]/gu) ?? [];

/* On the in-memory hypervisor: the escaping is the UI's. test/e2e/pty-small.test.ts shows the same lab's text through the real binary in a terminal. */
describe('text from outside never reaches the terminal raw', () => {
	it('a snapshot description and an error holding ESC sequences, BEL and a bidi override are shown escaped', async () => {
		const lab = await hostileMemoryLab();
		const ui = renderApp(lab.service);
		ui.resize(200, 40);
		await ui.waitFor(frame => frame.includes('h1') && frame.includes('h2'), 'the VM list');
		ui.press('open');
		const tree = await ui.waitFor(frame => frame.includes('h1: 1 snapshot'), "h1's tree");
		expect(tree).toContain(`before${HOSTILE_SHOWN}after`);
		expect(rawControls(ui.lastFrame() ?? '')).toEqual([]);
		ui.press('back');
		ui.press('down');
		ui.press('open');
		const error = await ui.waitFor(frame => frame.includes('is missing'), "h2's error");
		expect(error).toContain(`x${HOSTILE_SHOWN}.qcow2 is missing`);
		expect(rawControls(ui.lastFrame() ?? '')).toEqual([]);
	});
});
