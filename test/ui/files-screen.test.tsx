import {createHash} from 'node:crypto';
import {existsSync} from 'node:fs';
import {readFile} from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import {execa} from 'execa';
import {afterEach, describe, expect, it} from 'vitest';
import {guestLab} from '../helpers/guest.js';
import {labWithVm, tempDir} from '../helpers/lab.js';
import {applianceSocketFolders, guestfishesUsing} from '../helpers/processes.js';
import {sessionPorts} from '../../source/service/session-ports.js';
import {renderApp} from '../helpers/ui.js';

// Folders a test made or may leave (a socket folder where guestfish was killed): removed after each test.
const extracted: string[] = [];
afterEach(async () => {
	const {rm} = await import('node:fs/promises');
	for (const dir of extracted.splice(0)) await rm(dir, {recursive: true, force: true});
});

describe("a point's files in the terminal UI (libguestfs, the real guest)", () => {
	it('F browses the point: Enter goes into a folder, x copies the selected file out as a job', async () => {
		const lab = await guestLab('uif1');
		// A file in the guest's filesystem, written offline with debugfs (the guest never ran): 64 KiB of known bytes.
		const raw = path.join(lab.root, 'root.raw');
		const data = Buffer.alloc(64 * 1024, 0x5a);
		const source = path.join(lab.root, 'payload.bin');
		const {writeFile} = await import('node:fs/promises');
		await writeFile(source, data);
		await execa('qemu-img', ['convert', '-O', 'raw', lab.disk, raw]);
		await execa('debugfs', ['-w', '-R', `write ${source} /data/payload.bin`, raw]);
		await execa('qemu-img', ['convert', '-O', 'qcow2', raw, lab.disk]);
		const point = await lab.service.backup('uif1', {mode: 'full', command: 'test'});
		extracted.push(path.join(os.homedir(), 'snapdeck-extract', `uif1-${point.id}`));

		const ui = renderApp(lab.service);
		await ui.waitFor(frame => frame.includes('uif1'), 'the VM list');
		ui.press('backups');
		await ui.waitFor(frame => frame.includes('uif1: 1 backup point'), 'the backup points');
		ui.press('files');
		await ui.waitFor(
			frame => frame.includes(`Point ${point.id} of uif1: / (`) && frame.includes('data/'),
			'the root folder of the point',
			120_000,
		);
		// To the data folder, by the cursor: down until it is on it.
		// Each press waits for the cursor to move: a frame drawn late must not let it run past.
		const selected = (frame: string) => /▸ .*/.exec(frame)?.[0] ?? '';
		for (let step = 0; step < 30 && !/▸ d\S+ +[\d.]+ \S+ +data\//.test(ui.frame()); step++) {
			const before = selected(ui.frame());
			ui.press('down');
			await ui.waitFor(frame => selected(frame) !== before, 'the cursor one row down');
		}
		// The point is open: one guestfish (and its appliance) reads it, and the VM's backups are locked, naming the browsing.
		const guestfishes = () => guestfishesUsing(lab.repo);
		const browsing = await guestfishes();
		expect(browsing).toHaveLength(1);
		const lock = path.join(lab.repo, 'uif1', '.snapdeck', 'lock');
		expect(await readFile(lock, 'utf8')).toContain(`snapdeck ui: files uif1 --point ${point.id} (browsing)`);
		ui.press('open');
		await ui.waitFor(
			frame => frame.includes(': /data (') && /▸ -rw\S* +64(\.0)? KiB +payload\.bin/.test(frame),
			'the data folder, on the file',
			120_000,
		);
		// The next folder was read through the same appliance: no second boot.
		expect(await guestfishes()).toEqual(browsing);
		ui.press('extract');
		const done = await ui.waitFor(
			frame => /✓ extract \/data\/payload\.bin of uif1 \S+ done/.test(frame),
			'the extraction done',
			120_000,
		);
		expect(done.replace(/\s+/g, ' ')).toContain(
			`copied to ${path.join(os.homedir(), 'snapdeck-extract', `uif1-${point.id}`, 'payload.bin')}`,
		);
		const copy = await readFile(path.join(os.homedir(), 'snapdeck-extract', `uif1-${point.id}`, 'payload.bin'));
		expect(createHash('sha256').update(copy).digest('hex')).toBe(createHash('sha256').update(data).digest('hex'));
		// Up a folder: the point is opened again (the extraction took the lock over), and leaving the screen
		// stops its appliance and gives the lock back.
		ui.press('back');
		await ui.waitFor(
			frame => frame.includes(`Point ${point.id} of uif1: / (`) && /d\S+ +[\d.]+ \S+ +data\//.test(frame),
			'the root folder again',
			120_000,
		);
		const reopened = await guestfishes();
		expect(reopened).toHaveLength(1);
		const sockets = await applianceSocketFolders(reopened[0]!);
		expect(sockets).toHaveLength(1);
		extracted.push(...sockets);
		ui.press('back');
		await ui.waitFor(frame => frame.includes('uif1: 1 backup point'), 'the backup points again');
		let left = await guestfishes();
		for (let wait = 0; wait < 100 && left.length > 0; wait++) {
			await new Promise(resolve => setTimeout(resolve, 200));
			left = await guestfishes();
		}
		expect(left).toEqual([]);
		await expect(readFile(lock)).rejects.toThrow(/ENOENT/);
		// guestfish ended cleanly: libguestfs removed its socket folder (a signal would have left it in /tmp).
		for (const socket of sockets) expect(existsSync(socket), socket).toBe(false);
	}, 400_000);

	it('leaving the files screen while the appliance boots stops it cleanly: no guestfish, socket folder or lock left', async () => {
		const lab = await guestLab('uif3');
		await lab.service.backup('uif3', {mode: 'full', command: 'test'});
		const ui = renderApp(lab.service);
		await ui.waitFor(frame => frame.includes('uif3'), 'the VM list');
		ui.press('backups');
		await ui.waitFor(frame => frame.includes('uif3: 1 backup point'), 'the backup points');
		ui.press('files');
		await ui.waitFor(frame => frame.includes('through libguestfs'), 'the point being opened');
		// The appliance is booting: its qemu runs, and names the socket folder libguestfs made for it.
		let sockets: string[] = [];
		for (let wait = 0; wait < 600 && sockets.length === 0; wait++) {
			const [fish] = await guestfishesUsing(lab.repo);
			sockets = fish === undefined ? [] : await applianceSocketFolders(fish);
			if (sockets.length === 0) await new Promise(resolve => setTimeout(resolve, 100));
		}
		expect(sockets).toHaveLength(1);
		extracted.push(...sockets);
		expect(ui.frame()).toContain('through libguestfs');
		ui.press('back');
		await ui.waitFor(frame => frame.includes('uif3: 1 backup point'), 'the backup points again');
		let left = await guestfishesUsing(lab.repo);
		for (let wait = 0; wait < 300 && left.length > 0; wait++) {
			await new Promise(resolve => setTimeout(resolve, 200));
			left = await guestfishesUsing(lab.repo);
		}
		expect(left).toEqual([]);
		expect(existsSync(sockets[0]!), sockets[0]).toBe(false);
		const lock = path.join(lab.repo, 'uif3', '.snapdeck', 'lock');
		for (let wait = 0; wait < 100 && existsSync(lock); wait++) await new Promise(resolve => setTimeout(resolve, 100));
		expect(existsSync(lock)).toBe(false);
	}, 300_000);

	it("F on a point whose disks hold no filesystem (as the demo's) says so at once, without booting libguestfs", async () => {
		const lab = await labWithVm('uif2');
		await lab.write(0x11, 0);
		const service = sessionPorts(lab.hypervisor, {repository: await tempDir()});
		await service.backup('uif2', {mode: 'full', command: 'test'});
		const ui = renderApp(service);
		await ui.waitFor(frame => frame.includes('uif2'), 'the VM list');
		ui.press('backups');
		await ui.waitFor(frame => frame.includes('uif2: 1 backup point'), 'the backup points');
		const began = Date.now();
		ui.press('files');
		await ui.waitFor(frame => frame.includes('libguestfs finds no filesystem'), 'the answer', 10_000);
		expect(Date.now() - began).toBeLessThan(8000);
	}, 60_000);
});
