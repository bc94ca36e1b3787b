import {readFile, writeFile} from 'node:fs/promises';
import path from 'node:path';
import {describe, expect, it} from 'vitest';
import {labWithVm} from '../helpers/lab.js';
import {renderApp, stripAnsi} from '../helpers/ui.js';

/** Sets the window title (OSC 0, ended by BEL), clears the screen (CSI 2J), reverses what follows (RLO). */
export const HOSTILE = '\x1b]0;PWNED\x07\x1b[2J\u202e';
export const HOSTILE_SHOWN = String.raw`\x1b]0;PWNED\x07\x1b[2J\u202e`;

/** A lab whose snapshot description and whose disk file name (and so an error) hold control sequences. */
export async function hostileLab() {
	const lab = await labWithVm('h1');
	await lab.take('s1');
	const edit = async (folder: string, change: (vm: {snapshots: Array<{description: string}>; disks: Array<{file: string}>}) => void) => {
		const file = path.join(folder, 'vm.json');
		const vm = JSON.parse(await readFile(file, 'utf8'));
		change(vm);
		await writeFile(file, JSON.stringify(vm));
	};
	await edit(lab.folder, vm => {
		vm.snapshots[0]!.description = `before${HOSTILE}after`;
	});
	const other = await labWithVm('h2');
	await edit(other.folder, vm => {
		vm.disks[0]!.file = `x${HOSTILE}.qcow2`;
	});
	// Both VMs in one lab: h2's folder moved beside h1's.
	const {rename} = await import('node:fs/promises');
	await rename(other.folder, path.join(lab.root, 'h2'));
	return lab;
}

/** What reached the terminal, colours aside: no control character may be in it but line breaks. */
const rawControls = (frame: string) => stripAnsi(frame).replace(/\n/g, '').match(/[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]/gu) ?? [];

describe('text from outside never reaches the terminal raw', () => {
	it('a snapshot description and an error holding ESC sequences, BEL and a bidi override are shown escaped', async () => {
		const lab = await hostileLab();
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
