import {mkdir, readFile, writeFile} from 'node:fs/promises';
import path from 'node:path';
import {describe, expect, it} from 'vitest';
import {writeVmFile} from '../../source/adapters/local/vm-file.js';
import {restoreEnvAfterEach} from '../helpers/env.js';
import {labWithVm, qemuImg} from '../helpers/lab.js';
import {renderApp} from '../helpers/ui.js';

/** Another VM in the lab's folder, as another operator would add it. */
async function addVm(root: string, name: string) {
	const folder = path.join(root, name);
	await mkdir(folder);
	await qemuImg.create(path.join(folder, 'vda.qcow2'), {size: 1 << 20});
	await writeVmFile(folder, {
		version: 1,
		name,
		description: '',
		qmp: null,
		current: null,
		snapshots: [],
		disks: [{target: 'vda', file: 'vda.qcow2'}],
	});
	return folder;
}

restoreEnvAfterEach('SNAPDECK_QEMU_IMG');

/**
 * The jobs screen on a real lab: its jobs are slowed by a slow qemu-img and cancelled by killing
 * it, and what a cancelled take leaves (a pending record that recover finishes or undoes) is the
 * local adapter's. The in-memory hypervisor does not model that yet (screens.test.tsx has the rest).
 */
describe('the jobs screen', () => {
	it('the jobs screen lists running and ended jobs, cancels the selected one (not the newest), and shows a job with its log', async () => {
		const lab = await labWithVm('j1');
		await addVm(lab.root, 'j2');
		// A qemu-img whose 'create' (the first step of a take) takes 3 s: both takes are running at once.
		const script = path.join(lab.root, 'slow-qemu-img');
		await writeFile(script, '#!/bin/sh\nif [ "$1" = create ]; then sleep 3; fi\nexec qemu-img "$@"\n', {mode: 0o755});
		process.env['SNAPDECK_QEMU_IMG'] = script;
		const ui = renderApp(lab.service);
		await ui.waitFor(frame => /▸ . j1/.test(frame), 'the list on j1');
		for (const vm of ['j1', 'j2']) {
			ui.press('take');
			await ui.waitFor(frame => frame.includes(`Take a snapshot of ${vm}`), `the take dialog of ${vm}`);
			ui.press('submit');
			await ui.waitFor(frame => frame.includes('Proceed?'), `the plan for ${vm}`);
			ui.press('confirm');
			await ui.waitFor(frame => new RegExp(`of ${vm} running`).test(frame), `the take of ${vm} running`);
			ui.press('down');
		}
		// Both VMs are busy with this window's jobs: the list says so, and their changing keys say why.
		ui.press('up');
		await ui.waitFor(frame => /▸ . j1 +busy/.test(frame) && /j2 +busy/.test(frame), 'both VMs busy');
		ui.press('take');
		await ui.waitFor(frame => frame.includes("j1 is busy: job 1 here (take '"), 'why take does not open');
		ui.press('jobs');
		await ui.waitFor(
			frame =>
				frame.includes('Jobs of this window: 2 running, 0 ended') && /▸ . 2 +take '\S+' of j2 running/.test(frame),
			'both jobs, the cursor on the newest',
		);
		ui.press('up');
		await ui.waitFor(frame => /▸ . 1 +take '\S+' of j1/.test(frame), 'the cursor on the older job');
		ui.press('cancelJob');
		await ui.waitFor(
			frame => /take '\S+' of j1 cancelled/.test(frame) && /take '\S+' of j2 done/.test(frame),
			'j1 cancelled, j2 done',
		);
		ui.press('open');
		const top = await ui.waitFor(frame => frame.includes("Job 1: take '"), 'the job whole');
		expect(top.replace(/[│\s]+/g, ' ')).toMatch(/cancelled: started \S+ \S+, ended \S+ \S+ after \d+\.\d s/);
		// Its log, scrolled to the end.
		ui.press('bottom');
		const end = await ui.waitFor(frame => /lines \d+-(\d+) of \1/.test(frame), 'the end of the job');
		expect(end).toMatch(/\d\d:\d\d:\d\d step 1\/2: vda: create overlay/);
		expect(end).toMatch(/\d\d:\d\d:\d\d cancel asked/);
		expect(end).toMatch(/\d\d:\d\d:\d\d cancelled: take of j1 was cancelled/);
		ui.press('dismiss');
		ui.press('cancelJob');
		await ui.waitFor(
			frame => frame.includes('job 1 has ended (cancelled): nothing to cancel'),
			'an ended job cannot be cancelled, and says so',
		);
		// The data: the cancelled take recorded no snapshot (recover finishes or undoes it); the other one made its snapshot.
		const snapshots = async (vm: string) =>
			(JSON.parse(await readFile(path.join(lab.root, vm, 'vm.json'), 'utf8')) as {snapshots: unknown[]}).snapshots
				.length;
		expect(await snapshots('j1')).toBe(0);
		expect(await snapshots('j2')).toBe(1);
	});
});
