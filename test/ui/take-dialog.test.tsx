import {describe, expect, it} from 'vitest';
import {sessionPorts} from '../../source/service/session-ports.js';
import {MemoryHypervisor} from '../helpers/memory-hypervisor.js';
import {renderApp} from '../helpers/ui.js';

describe('the take dialog', () => {
	it('offers quiescing on a running VM only when its own guest agent answers; elsewhere it says why, and Tab skips it', async () => {
		const hypervisor = new MemoryHypervisor();
		hypervisor.addVm('agent1');
		hypervisor.addVm('bare1');
		// The connection reaches guest agents, but only agent1 runs one (as the demo's live1 runs none).
		Object.assign(hypervisor.roles, {guestAgents: {canQuiesce: async (vm: string) => vm === 'agent1'}});
		await hypervisor.roles.power!.start('agent1');
		await hypervisor.roles.power!.start('bare1');
		const ui = renderApp(sessionPorts(hypervisor));
		await ui.waitFor(
			frame => frame.includes('agent1') && frame.includes('bare1') && frame.includes('running'),
			'the VM list',
		);

		ui.press('down');
		await ui.waitFor(frame => frame.includes('▸ bare1') || /▸ \S+ bare1/.test(frame), 'bare1 selected');
		ui.press('take');
		await ui.waitFor(
			frame =>
				frame.includes('Take a snapshot of bare1') &&
				frame.includes('quiesced through the guest agent (no guest agent answers in the VM)'),
			'quiescing refused, with why',
		);
		// Tab goes name, description, internal, memory, and round to the name: never onto quiesce.
		for (let tab = 0; tab < 4; tab++) ui.press('nextField');
		ui.type(' ');
		await ui.waitFor(frame => /Name: +snap-\S+ ▏/.test(frame), 'the space typed into the name: quiesce skipped');
		expect(ui.frame()).toContain('[ ] quiesced');
		ui.press('dismiss');
		await ui.waitFor(frame => !frame.includes('Take a snapshot'), 'the dialog closed');

		ui.press('up');
		ui.press('take');
		await ui.waitFor(
			frame => frame.includes('Take a snapshot of agent1') && /\[ \] quiesced through the guest agent *│/.test(frame),
			'quiescing offered',
		);
		for (let tab = 0; tab < 4; tab++) ui.press('nextField');
		ui.type(' ');
		await ui.waitFor(frame => frame.includes('[x] quiesced through the guest agent'), 'quiesce ticked');
	});
});
