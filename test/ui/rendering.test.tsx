import {render} from 'ink-testing-library';
import {describe, expect, it} from 'vitest';
import type {VmSummary} from '../../source/core/model.js';
import {VmList} from '../../source/ui/components/vm-list.js';
import {keySpecsOf} from '../../source/ui/keymap.js';
import {wrapLines} from '../../source/ui/layout.js';
import {ThemeContext, themeFor} from '../../source/ui/theme.js';
import {memoryLab} from '../helpers/memory-lab.js';
import {renderApp, stripAnsi} from '../helpers/ui.js';

const COLOUR = /\x1b\[(3[0-7]|9[0-7]|38;[0-9;]+)m/;

const summary = (index: number): VmSummary => ({
	name: `vm${String(index).padStart(4, '0')}`,
	state: 'stopped',
	disks: [],
	snapshots: index % 7,
	chainDepth: 1 + (index % 3),
	current: null,
	error: null,
});

describe('rendering', () => {
	it('honours NO_COLOR: colour escapes with colours on, none with NO_COLOR', async () => {
		const lab = memoryLab();
		const coloured = renderApp(lab.service, {noColor: false});
		await coloured.waitFor(frame => frame.includes('vm1'), 'the coloured list');
		expect(coloured.lastFrame()).toMatch(COLOUR);
		const plain = renderApp(lab.service, {noColor: true});
		await plain.waitFor(frame => frame.includes('vm1'), 'the plain list');
		expect(plain.lastFrame()).not.toMatch(COLOUR);
	});

	it('renders only the visible rows of 1,000 VMs, with the selected one among them', () => {
		const vms = Array.from({length: 1000}, (_, index) => summary(index));
		const {lastFrame} = render(
			<ThemeContext.Provider value={themeFor(true)}>
				<VmList vms={vms} selected={500} height={20} width={78} now={new Date()} empty="no VMs" />
			</ThemeContext.Provider>,
		);
		const lines = stripAnsi(lastFrame() ?? '').split('\n');
		expect(lines).toHaveLength(20);
		expect(lines.find(line => line.startsWith('▸'))).toContain('vm0500');
		expect(lines.join('\n')).not.toContain('vm0000');
	});

	it('splits a read that holds several keys into each key', () => {
		expect(keySpecsOf('jj\r')).toEqual(['j', 'j', 'enter']);
		expect(keySpecsOf('k\x1b[Bq')).toEqual(['k', 'down', 'q']);
		expect(keySpecsOf('\x1b')).toEqual(['escape']);
		expect(keySpecsOf('\x03\x7f\t')).toEqual(['ctrl+c', 'backspace', 'tab']);
		expect(keySpecsOf('é')).toEqual(['é']);
	});

	it('wraps a long message to the width, cutting what does not fit in the lines allowed', () => {
		const lines = wrapLines('one two three four five six seven eight nine ten', 10, 3);
		expect(lines).toHaveLength(3);
		expect(lines.every(line => [...line].length <= 10)).toBe(true);
		expect(lines.at(-1)!.endsWith('…')).toBe(true);
	});
});
