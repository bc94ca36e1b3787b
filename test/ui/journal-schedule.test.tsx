import {describe, it} from 'vitest';
import {Policy} from '../../source/core/policy.js';
import {memoryLab} from '../helpers/memory-lab.js';
import {FIXED_NOW, renderApp} from '../helpers/ui.js';

/* On the in-memory hypervisor: the contract (test/contract/) holds that the real adapters journal a change under their connection as it does. */
describe('the journal and the schedules in the terminal UI', () => {
	it("L shows the VM's changes from the journal; the tree shows its scheduled tasks", async () => {
		const policy = Policy.parse({name: 'p', snapshots: {schedule: '0 */6 * * *'}, backups: {schedule: '30 2 * * *'}});
		const lab = memoryLab('logvm1', {service: {policies: async () => () => policy}});
		await lab.take('before-l');
		const ui = renderApp(lab.service);
		await ui.waitFor(frame => frame.includes('logvm1'), 'the VM list');
		ui.press('log');
		await ui.waitFor(
			frame =>
				frame.includes('Journal of logvm1') &&
				/logvm1 {2}take before-l {2}started: take external snapshot 'be/.test(frame) &&
				/take before-l {2}done/.test(frame),
			'the journal lines',
		);
		// Enter shows the newest record whole: who made the change, where, and how it ended.
		ui.press('open');
		await ui.waitFor(
			frame =>
				frame.includes('Journal record of logvm1') &&
				/take before-l of logvm1, done/.test(frame) &&
				/by \S+ on \S+, memory:/.test(frame),
			'the record whole',
		);
		ui.press('dismiss');
		await ui.waitFor(frame => frame.includes('Journal of logvm1'), 'the journal again');
		ui.press('back');
		ui.press('open');
		const next = FIXED_NOW.toISOString().slice(0, 10);
		await ui.waitFor(
			frame => frame.includes(`scheduled snapshots: next ${next} 18:00, last never · backups: next`),
			'the schedule line in the tree',
		);
	});
});
