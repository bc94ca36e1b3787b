import {mkdir, writeFile} from 'node:fs/promises';
import path from 'node:path';
import {describe, expect, it} from 'vitest';
import {writeVmFile} from '../../source/adapters/local/vm-file.js';
import {sessionPorts} from '../../source/service/session-ports.js';
import {restoreEnvAfterEach} from '../helpers/env.js';
import {labWithVm, qemuImg, tempDir} from '../helpers/lab.js';
import {rawKey, renderApp} from '../helpers/ui.js';

restoreEnvAfterEach('SNAPDECK_QEMU_IMG');

/** The demo lab's four VMs, one of them web1. */
async function fourVms() {
	const lab = await labWithVm('web1');
	for (const name of ['app1', 'db1', 'live1']) {
		const folder = path.join(lab.root, name);
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
	}
	return lab;
}

const vmsShown = (frame: string) =>
	['app1', 'db1', 'live1', 'web1'].filter(vm => new RegExp(`^[▸ ] . ${vm} `, 'm').test(frame)).length;

/* Which messages show and in how many rows is test/ui/message-rows.test.ts's; here, the app on a real lab. */
describe('messages at 40x12', () => {
	it('after backups, the list keeps three VMs or more in view; the messages take two rows, go after a while or with Ctrl-L; the jobs screen keeps them', async () => {
		const lab = await fourVms();
		const service = sessionPorts(lab.hypervisor, {repository: path.join(await tempDir(), 'repo')});
		const ui = renderApp(service, {messageTtl: {ended: 1500, failed: 60_000}});
		ui.resize(40, 12);
		await ui.waitFor(frame => vmsShown(frame) === 4, 'the four VMs');
		for (const [index, mode] of [
			[0, 'backupFull'],
			[1, 'backupFull'],
			[0, 'backupIncremental'],
		] as const) {
			ui.press('top');
			if (index) ui.press('down');
			ui.press('backup');
			await ui.waitFor(frame => frame.includes('Back up'), 'the backup dialog');
			ui.press(mode);
			await ui.waitFor(
				frame => !frame.includes('Back up') && /✓ (full |incremental )?backup of \S+ done/.test(frame),
				'the backup done',
			);
			const frame = ui.frame();
			expect(frame.split('\n').length).toBeLessThanOrEqual(11);
			expect(vmsShown(frame), frame).toBeGreaterThanOrEqual(3);
		}
		// Each message's row count is bounded: two rows under the list, whatever ended.
		const lines = ui.frame().split('\n');
		const helpBar = lines.length - 1;
		expect(lines.slice(helpBar - 3, helpBar - 1).join('\n')).toMatch(/✓/);
		await ui.waitFor(frame => !frame.includes('✓'), 'the messages gone after their time', 5000);
		expect(vmsShown(ui.frame())).toBe(4);
		// The jobs screen keeps every one.
		ui.press('jobs');
		await ui.waitFor(frame => frame.includes('3 ended'), 'the jobs screen');
		ui.press('back');
		await ui.waitFor(frame => vmsShown(frame) === 4, 'the list');
		// A failure stays until Ctrl-L clears it.
		process.env['SNAPDECK_QEMU_IMG'] = path.join(lab.root, 'no-such-qemu-img');
		ui.press('backup');
		await ui.waitFor(frame => frame.includes('Back up'), 'the backup dialog');
		ui.press('backupFull');
		await ui.waitFor(frame => frame.includes('✗'), 'the failure');
		ui.type(rawKey('ctrl+l'));
		await ui.waitFor(frame => !frame.includes('✗'), 'the failure cleared by Ctrl-L');
	});

	it('the quit question counts the jobs that run, and goes once none does', async () => {
		const lab = await labWithVm('q1');
		const script = path.join(lab.root, 'slow-qemu-img');
		await writeFile(script, '#!/bin/sh\nif [ "$1" = create ]; then sleep 2; fi\nexec qemu-img "$@"\n', {mode: 0o755});
		process.env['SNAPDECK_QEMU_IMG'] = script;
		const ui = renderApp(lab.service);
		await ui.waitFor(frame => frame.includes('q1'), 'the list');
		ui.press('take');
		ui.press('submit');
		await ui.waitFor(frame => frame.includes('Proceed?'), 'the plan');
		ui.press('confirm');
		await ui.waitFor(frame => /running \[1\/2\]/.test(frame), 'the take running');
		ui.press('quit');
		await ui.waitFor(frame => frame.includes('1 job running. Cancel it and quit?'), 'the question');
		await ui.waitFor(
			frame =>
				frame.includes("✓ take 'snap-") &&
				!frame.includes('job running') &&
				!frame.includes('0 jobs') &&
				frame.includes('no job runs any more: q quits'),
			'the question gone with the job',
		);
		expect(ui.exited()).toBe(false);
		ui.press('quit');
		await ui.waitForExit();
	});
});
