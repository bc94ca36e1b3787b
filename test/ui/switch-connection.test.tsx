import {describe, it} from 'vitest';
import {memoryLab} from '../helpers/memory-lab.js';
import {renderAppOn} from '../helpers/ui.js';

describe('several connections at once', () => {
	it('the UI opens on the first connection, and C switches to the next', async () => {
		const east = memoryLab('east1', {connection: 'east'});
		const west = memoryLab('west1', {connection: 'west'});
		const ui = renderAppOn([east.service, west.service]);
		await ui.waitFor(
			frame => frame.includes(`${east.hypervisor.uri} (1/2)`) && frame.includes('east1'),
			'the first connection',
		);
		ui.press('connection');
		await ui.waitFor(
			frame => frame.includes(`${west.hypervisor.uri} (2/2)`) && frame.includes('west1') && !frame.includes('east1'),
			'the second connection',
		);
		ui.press('connection');
		await ui.waitFor(frame => frame.includes('(1/2)') && frame.includes('east1'), 'back to the first');
	});
});
