import path from 'node:path';
import {execa} from 'execa';
import {describe, expect, it} from 'vitest';
import {labWithVm} from '../helpers/lab.js';
import {renderApp} from '../helpers/ui.js';

/**
 * The terminal UI where its point is the local adapter's real files: an internal snapshot inside
 * the qcow2, another snapdeck's lock file, changes seen by watching the lab's folder. The rest of
 * the UI's tests run on the in-memory hypervisor (app.test.tsx).
 */
describe('the terminal UI on a real lab', () => {
	it("the take dialog's options reach the data: an internal snapshot really is inside the image; what the VM does not allow says why", async () => {
		const lab = await labWithVm('web9');
		await lab.write(0xc1, 1);
		const ui = renderApp(lab.service);
		await ui.waitFor(frame => frame.includes('web9'), 'the VM list');
		ui.press('take');
		const dialog = await ui.waitFor(frame => frame.includes('Take a snapshot of web9'), 'the take dialog');
		expect(dialog).toContain('[ ] with memory (the RAM too) (the VM is not running)');
		expect(dialog).toContain('[ ] quiesced through the guest agent (the VM is not running)');
		// Ctrl-U clears the name, the left arrow moves into it.
		ui.type('\x15');
		ui.type('inide');
		ui.type('\x1b[D\x1b[D\x1b[D');
		ui.type('s');
		await ui.waitFor(frame => frame.includes('Name:        ins▏ide'), 'the name edited in the middle');
		ui.type('\x05');
		ui.press('nextField');
		ui.press('nextField');
		ui.type(' ');
		await ui.waitFor(frame => frame.includes('[x] internal (inside the images)'), 'internal ticked');
		// Tab goes round the fields the VM allows (name, description, internal), never onto memory: back in the name.
		ui.press('nextField');
		ui.type(' ');
		await ui.waitFor(frame => frame.includes('Name:        inside ▏'), 'the space typed into the name');
		expect(ui.frame()).toContain('[ ] with memory');
		ui.type('\x7f');
		ui.press('submit');
		await ui.waitFor(
			frame => frame.includes("record internal snapshot 'inside'") && frame.includes('Proceed?'),
			'the plan of an internal snapshot',
		);
		ui.press('confirm');
		await ui.waitFor(frame => frame.includes("✓ take 'inside' of web9 done"), 'the snapshot taken');
		const {stdout} = await execa('qemu-img', ['snapshot', '-l', '-U', await lab.activeFile()]);
		expect(stdout).toContain('inside');
		expect((await lab.vmFile()).snapshots.map(snapshot => [snapshot.name, snapshot.kind])).toEqual([
			['inside', 'internal'],
		]);
	});

	it('marks a VM another snapdeck is at work on as busy, and its changing keys say why instead of acting', async () => {
		const lab = await labWithVm('m3');
		const {mkdir, writeFile} = await import('node:fs/promises');
		const os = await import('node:os');
		// Another snapdeck's job: a live process on this host holding m3's lock.
		const other = execa('sleep', ['60'], {reject: false});
		try {
			await mkdir(path.join(lab.folder, '.snapdeck'), {recursive: true});
			await writeFile(
				path.join(lab.folder, '.snapdeck', 'lock'),
				JSON.stringify({
					pid: other.pid,
					host: os.hostname(),
					user: 'ops',
					command: 'snapdeck backup m3',
					since: '2026-11-25T11:59:00Z',
					token: 't1',
				}),
			);
			const ui = renderApp(lab.service, {refreshMs: 200});
			await ui.waitFor(frame => /m3 +busy/.test(frame), 'm3 marked busy');
			ui.press('take');
			await ui.waitFor(
				frame => frame.includes(`m3 is busy: pid ${other.pid} (snapdeck backup m3), user ops`),
				'why take does nothing',
			);
			expect(ui.frame()).not.toContain('Take a snapshot of m3');
			other.kill();
			await ui.waitFor(frame => /m3 +stopped/.test(frame), 'm3 free again once that job is gone');
			ui.press('take');
			await ui.waitFor(frame => frame.includes('Take a snapshot of m3'), 'the take dialog');
		} finally {
			other.kill();
			await other;
		}
	});

	it("on a local lab, shows another operator's change at once, without waiting for the next poll", async () => {
		const lab = await labWithVm('w2');
		const {mkdir} = await import('node:fs/promises');
		const {writeVmFile} = await import('../../source/adapters/local/vm-file.js');
		const {qemuImg} = await import('../helpers/lab.js');
		// No poll within the test's time: only the adapter's change reports can bring the changes in.
		const ui = renderApp(lab.service, {refreshMs: 600_000});
		await ui.waitFor(frame => frame.includes('w2') && frame.includes('VMs (1)'), 'the VM list');
		const folder = path.join(lab.root, 'a0');
		await mkdir(folder);
		// The folder comes first (as a copy or mkdir makes it): without its vm.json it is damaged, until vm.json comes.
		await ui.waitFor(frame => /a0 +damaged/.test(frame), 'the new folder, damaged', 5000);
		await qemuImg.create(path.join(folder, 'vda.qcow2'), {size: 1 << 20});
		await writeVmFile(folder, {
			version: 1,
			name: 'a0',
			description: '',
			qmp: null,
			current: null,
			snapshots: [],
			disks: [{target: 'vda', file: 'vda.qcow2'}],
		});
		await ui.waitFor(frame => frame.includes('VMs (2)') && /a0 +stopped/.test(frame), 'the new VM, whole', 5000);
		// Another operator's snapdeck, another process: its lock is what the adapter sees.
		await execa(path.resolve('bin/snapdeck'), ['snapshot', 'w2', 'seen', '--yes', '--connect', `local:${lab.root}`]);
		await ui.waitFor(frame => /▸ . w2 .* seen/.test(frame), "w2's new snapshot, the cursor still on w2", 5000);
	});
});
