import {writeFile} from 'node:fs/promises';
import path from 'node:path';
import {describe, expect, it} from 'vitest';
import {DEFAULT_POLICY, Policy} from '../../source/core/policy.js';
import {sessionPorts} from '../../source/service/session-ports.js';
import {restoreEnvAfterEach} from '../helpers/env.js';
import {labWithVm, MiB, qemuImg, qemuIo, tempDir} from '../helpers/lab.js';
import {renderApp} from '../helpers/ui.js';

restoreEnvAfterEach('SNAPDECK_CONFIG_DIR', 'RESTIC_PASSWORD_FILE');

describe('backups in the terminal UI', () => {
	it('b backs up, B lists the points, v verifies, o restores as a new VM whose disk holds the data', async () => {
		const lab = await labWithVm('web9');
		await lab.write(0xc1, 1);
		const repo = await tempDir();
		const service = sessionPorts(lab.hypervisor, {repository: repo});
		const ui = renderApp(service);
		await ui.waitFor(frame => /web9 +stopped .* never/.test(frame), 'the list with no backup yet');

		ui.press('backup');
		await ui.waitFor(
			frame => frame.includes('Back up web9') && frame.includes(path.join(repo, 'web9')),
			'the backup dialog',
		);
		ui.press('backupAuto');
		const done = await ui.waitFor(frame => /✓ backup of web9 done/.test(frame), 'the backup done');
		expect(done).toMatch(/full point \d{8}T\d{6}Z, [\d.]+ [KM]iB; full because there is no earlier backup/);
		const [point] = await service.backups('web9');
		expect(await qemuImg.same(path.join(repo, 'web9', point!.files[0]!.file), await lab.activeFile())).toBe(true);
		await ui.waitFor(frame => /web9 +stopped .* 0m/.test(frame), 'the list showing the fresh backup');

		await lab.write(0xc2, 2);
		ui.press('backup');
		await ui.waitFor(frame => frame.includes('Back up web9'), 'the backup dialog again');
		ui.press('backupIncremental');
		await ui.waitFor(frame => /✓ incremental backup of web9 done/.test(frame), 'the incremental done');

		ui.press('backups');
		await ui.waitFor(
			frame => frame.includes('web9: 2 backup points') && /▸ \S+ +incremental .* never/.test(frame),
			'the backups view, newest first',
		);
		ui.press('verify');
		await ui.waitFor(
			frame => /✓ verify web9 \S+ done/.test(frame) && /▸ \S+ +incremental .* ok 0m ago/.test(frame),
			'the verified point',
		);
		// Enter shows the point whole: its files with their full checksums, its verification.
		ui.press('open');
		const [, newest] = await service.backups('web9');
		const details = await ui.waitFor(frame => frame.includes(`Backup point ${newest!.id} of web9`), 'the point whole');
		expect(details).toContain(newest!.files[0]!.sha256);
		expect(details).toMatch(/verified: ok at \S+: ok/);
		ui.press('dismiss');
		await ui.waitFor(frame => frame.includes('web9: 2 backup points'), 'the points again');

		ui.press('down');
		ui.press('restore');
		const dialog = await ui.waitFor(
			frame => frame.includes('as a new VM') && frame.includes('web9-restored'),
			'the restore dialog',
		);
		// Its one field: the help bar offers no next field that Tab would not go to.
		expect(dialog.split('\n').at(-1)).toMatch(/^Enter accept {2}Esc\/\^C close\s*$/);
		ui.press('submit');
		await ui.waitFor(frame => /✓ restore web9 \S+ as web9-restored done/.test(frame), 'the restore done');
		const restored = path.join(lab.root, 'web9-restored', 'vda.qcow2');
		expect(await qemuIo.holds(restored, 0xc1, MiB, MiB)).toBe(true);
		expect(await qemuIo.holds(restored, 0, 2 * MiB, MiB)).toBe(true); // the full point, before 0xc2 was written
		ui.press('back');
		await ui.waitFor(frame => frame.includes('web9-restored'), 'the restored VM in the list');
	});

	it("draws the VM list from the hypervisor's answer while the repository is still being found, then fills in the backup ages", async () => {
		const lab = await labWithVm('web7');
		const repo = await tempDir();
		await sessionPorts(lab.hypervisor, {repository: repo}).backup('web7', {mode: 'auto', command: 'test'});
		// The repository comes from the configuration, which is slow to load: here it comes when the test says.
		let found!: (dir: string) => void;
		const service = sessionPorts(lab.hypervisor, {
			findRepository: () => new Promise<string>(resolve => (found = resolve)),
		});
		const ui = renderApp(service);
		const early = await ui.waitFor(frame => /web7 +stopped/.test(frame), 'the list before the repository');
		expect(early).not.toMatch(/web7 +stopped .* (never|0m)/);
		found(repo);
		await ui.waitFor(frame => /web7 +stopped .* 0m/.test(frame), 'the backup age filled in');
	});

	it("P prunes by the policy's retention after showing the plan; the kept point still holds the newest data", async () => {
		const lab = await labWithVm('web8');
		const repo = await tempDir();
		const keepOne = Policy.parse({name: 'keep-one', backups: {retention: {last: 1}}});
		const service = sessionPorts(lab.hypervisor, {repository: repo, policies: async () => () => keepOne});
		for (const pattern of [0xd1, 0xd2, 0xd3]) {
			await lab.write(pattern, 1);
			await service.backup('web8', {mode: 'auto', command: 'test'});
		}
		const ui = renderApp(service);
		await ui.waitFor(frame => /web8 +stopped/.test(frame), 'the list');
		ui.press('backups');
		await ui.waitFor(frame => frame.includes('web8: 3 backup points'), 'the three points');
		ui.press('prune');
		const plan = await ui.waitFor(frame => frame.includes('Type web8 to proceed'), 'the prune plan');
		expect(plan).toMatch(/prune/i);
		expect(await service.backups('web8')).toHaveLength(3); // nothing happens before the answer
		ui.type('web8');
		ui.press('submit');
		await ui.waitFor(frame => /✓ prune web8 done/.test(frame) && frame.includes('removed 2, kept 1'), 'the prune done');
		await ui.waitFor(frame => frame.includes('web8: 1 backup point'), 'one point left');
		const [kept] = await service.backups('web8');
		const restored = path.join(await tempDir(), 'kept.qcow2');
		await service.restore('web8', {point: kept!.id, to: restored, command: 'test'});
		expect(await qemuIo.holds(restored, 0xd3, MiB, MiB)).toBe(true);

		// A policy without retention: P says where to set one, and changes nothing.
		const noRetention = sessionPorts(lab.hypervisor, {repository: repo, policies: async () => () => DEFAULT_POLICY});
		const other = renderApp(noRetention);
		await other.waitFor(frame => /web8 +stopped/.test(frame), 'the list');
		other.press('backups');
		await other.waitFor(frame => frame.includes('web8: 1 backup point'), 'the point');
		other.press('prune');
		const refusal = await other.waitFor(
			frame => frame.includes("web8: policy 'default' has no backups.retention to prune by"),
			'the note on the status line',
		);
		// Whole, naming the file to edit.
		expect(refusal.replace(/\s+/g, ' ')).toContain(
			`set one in ${path.join(process.env['SNAPDECK_CONFIG_DIR']!, 'config.json')} ("backups": {"retention": {"daily": 7}} in a policy for web8)`,
		);
		expect(refusal).not.toContain('prune web8'); // no job was started
		expect(await noRetention.backups('web8')).toHaveLength(1);
	});

	it("O copies off-site to the policy's target; the list shows the copy's age; without a target, the status line says why", async () => {
		const lab = await labWithVm('web7', ['vda'], 64);
		await lab.write(0xd1, 1);
		const work = await tempDir();
		const password = path.join(work, 'password');
		await writeFile(password, 'pw\n');
		const target = path.join(work, 'offsite');
		const previous = process.env['RESTIC_PASSWORD_FILE'];
		process.env['RESTIC_PASSWORD_FILE'] = password;
		try {
			const policy = Policy.parse({name: 'offsite', offsite: {target}});
			const service = sessionPorts(lab.hypervisor, {
				repository: path.join(work, 'repo'),
				policies: async () => () => policy,
			});
			await service.backup('web7', {mode: 'auto', command: 'test'});
			const ui = renderApp(service);
			await ui.waitFor(
				frame => /OFFSITE/.test(frame) && /web7 +stopped .* 0m +never/.test(frame),
				'the list: backed up, never copied',
			);
			ui.press('copy');
			const done = await ui.waitFor(
				frame => new RegExp(`✓ copy web7 to ${target.replaceAll('/', '\\/')} done`).test(frame),
				'the copy done',
			);
			expect(done).toMatch(/point \d{8}T\d{6}Z, [\d.]+ [KM]iB uploaded/);
			await ui.waitFor(frame => /web7 +stopped .* 0m +0m/.test(frame), 'the list showing the fresh copy');
			expect((await service.remoteBackups({name: null, repository: target}, 'web7')).map(point => point.kind)).toEqual([
				'full',
			]);

			const plain = sessionPorts(lab.hypervisor, {
				repository: path.join(work, 'repo'),
				policies: async () => () => DEFAULT_POLICY,
			});
			const other = renderApp(plain);
			await other.waitFor(frame => frame.includes('web7'), 'the list');
			other.press('copy');
			await other.waitFor(
				frame => frame.includes(`web7: policy 'default' names no off-site target`),
				'the note on the status line',
			);
		} finally {
			if (previous === undefined) delete process.env['RESTIC_PASSWORD_FILE'];
			else process.env['RESTIC_PASSWORD_FILE'] = previous;
		}
	});

	it("O with no target in the VM's policy copies to the config's only target, as a copy does by default; with none or several, the note names the file to edit", async () => {
		const lab = await labWithVm('web5', ['vda'], 16);
		await lab.write(0xd5, 1);
		const work = await tempDir();
		const password = path.join(work, 'password');
		await writeFile(password, 'pw\n');
		process.env['SNAPDECK_CONFIG_DIR'] = path.join(work, 'config');
		const file = path.join(work, 'config', 'config.json');
		const service = sessionPorts(lab.hypervisor, {
			repository: path.join(work, 'repo'),
			policies: async () => () => DEFAULT_POLICY,
		});
		await service.backup('web5', {mode: 'auto', command: 'test'});
		const ui = renderApp(service);
		await ui.waitFor(frame => frame.includes('web5'), 'the list');
		const note = async (words: string) => {
			ui.press('copy');
			const frame = await ui.waitFor(
				frame => frame.includes("web5: policy 'default' names no off-site target"),
				'the note',
			);
			const said = frame.replace(/\s+/g, ' ');
			expect(said).toContain(words);
			expect(said).not.toContain('…');
			ui.press('refresh');
		};
		await note(
			`and ${file} has none: add one under "offsite" there (a restic repository), or set "offsite": {"target": NAME} in a policy for web5 there`,
		);
		const {mkdir} = await import('node:fs/promises');
		await mkdir(path.join(work, 'config'), {recursive: true});
		const target = (name: string) => ({repository: path.join(work, name), passwordFile: password});
		await writeFile(file, JSON.stringify({offsite: {usb: target('usb'), vault: target('vault')}}));
		await note(`and ${file} has 2 (usb, vault): set "offsite": {"target": NAME} in a policy for web5 there`);
		await writeFile(file, JSON.stringify({offsite: {usb: target('usb')}}));
		ui.press('copy');
		await ui.waitFor(frame => /✓ copy web5 to usb done/.test(frame), 'the copy to the only target', 60_000);
		expect(
			(
				await service.remoteBackups({name: null, repository: path.join(work, 'usb'), passwordFile: password}, 'web5')
			).map(point => point.kind),
		).toEqual(['full']);
	});

	it('the cursor stays on the selected point when a new backup appears above it, so v verifies the point chosen', async () => {
		const lab = await labWithVm('web6');
		const repo = await tempDir();
		const service = sessionPorts(lab.hypervisor, {repository: repo});
		await lab.write(0xe1, 1);
		const older = await service.backup('web6', {mode: 'auto', command: 'test'});
		await lab.write(0xe2, 1);
		await service.backup('web6', {mode: 'auto', command: 'test'});
		const ui = renderApp(service);
		await ui.waitFor(frame => frame.includes('web6'), 'the list');
		ui.press('backups');
		await ui.waitFor(frame => frame.includes('web6: 2 backup points'), 'the two points');
		ui.press('down');
		await ui.waitFor(frame => new RegExp(`▸ ${older.id}`).test(frame), 'the cursor on the older point');
		// Another snapdeck backs the VM up: the new point comes in at the top.
		await lab.write(0xe3, 1);
		await service.backup('web6', {mode: 'auto', command: 'test'});
		ui.press('refresh');
		await ui.waitFor(
			frame => frame.includes('web6: 3 backup points') && new RegExp(`▸ ${older.id}`).test(frame),
			'the cursor still on the older point',
		);
		ui.press('verify');
		await ui.waitFor(frame => new RegExp(`✓ verify web6 ${older.id} done`).test(frame), 'the older point verified');
		const verified = (await service.backups('web6')).filter(point => point.verified !== null).map(point => point.id);
		expect(verified).toEqual([older.id]);
	});
});
