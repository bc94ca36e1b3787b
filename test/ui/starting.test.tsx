import {describe, expect, it} from 'vitest';
import type {Ports} from '../../source/service/ports.js';
import {memoryLab} from '../helpers/memory-lab.js';
import {renderStart} from '../helpers/ui.js';

/** A load the test finishes when it chooses: the adapters and the config arriving after the first frame. */
function deferred() {
	let finish!: (services: readonly Ports[]) => void;
	let fail!: (error: unknown) => void;
	const promise = new Promise<readonly Ports[]>((resolve, reject) => {
		finish = resolve;
		fail = reject;
	});
	return {load: () => promise, finish, fail};
}

describe('the first frame', () => {
	it('shows the connection and the quit key before the service has loaded, then the VMs once it has', async () => {
		const lab = memoryLab('first1');
		const load = deferred();
		const ui = renderStart(lab.service.connection.uri, load.load);
		const first = await ui.waitFor(frame => frame.includes('starting'), 'the starting frame');
		expect(first.split('\n')[0]).toContain(`snapdeck ${lab.service.connection.uri}`);
		expect(first).toContain(`connecting to ${lab.service.connection.uri}…`);
		expect(first).toMatch(/q\/\^C quit/);
		expect(first.split('\n')).toHaveLength(23);
		load.finish([lab.service]);
		await ui.waitFor(frame => frame.includes('first1') && frame.includes('stopped'), 'the VM list');
	});

	it('quits with the quit key while still starting: the app never opens', async () => {
		const lab = memoryLab('first2');
		const load = deferred();
		const ui = renderStart('', load.load);
		await ui.waitFor(frame => frame.includes('reading the configuration…'), 'the starting frame');
		ui.press('quit');
		await ui.waitForExit();
		const drawn = ui.frames.length;
		load.finish([lab.service]);
		// The load's answer reaches a Root that is gone: nothing is drawn after the exit, the VMs never.
		await load.load();
		await new Promise(resolve => setImmediate(resolve));
		expect(ui.frames.length).toBe(drawn);
		expect(ui.frames.some(frame => frame.includes('first2'))).toBe(false);
	});

	it('hands a failed load (an unknown connection name) to the caller, which closes the UI and reports it', async () => {
		const load = deferred();
		const errors: unknown[] = [];
		const ui = renderStart('nosuch', load.load, error => errors.push(error));
		await ui.waitFor(frame => frame.includes('connecting to nosuch…'), 'the starting frame');
		load.fail(new Error("'nosuch' is neither a connection URI nor a connection named in the config"));
		await expect.poll(() => errors.length).toBe(1);
	});
});
