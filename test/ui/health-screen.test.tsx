import {describe, expect, it} from 'vitest';
import {sessionPorts} from '../../source/service/session-ports.js';
import {labWithVm, tempDir} from '../helpers/lab.js';
import {renderApp} from '../helpers/ui.js';

/* The health list's rendering alone is test/ui/health-list.test.tsx's; here, its keys on a real lab and repository. */
describe('health in the terminal UI', () => {
	it('a badge per VM, H lists the findings with the key that fixes each, and fixing one clears it', async () => {
		const lab = await labWithVm('web9');
		await lab.write(0xd1, 1);
		const service = sessionPorts(lab.hypervisor, {repository: await tempDir()});
		const ui = renderApp(service);
		await ui.waitFor(frame => /▸ ! web9 +stopped/.test(frame), 'a warning badge (no backup)');

		ui.press('health');
		await ui.waitFor(
			frame =>
				frame.includes('Health of 1 VM: 0 critical, 1 warning (no image checks: snapdeck health)') &&
				/▸ WARN web9 +web9 has no backup: snapshots are not backups \[b backup\]/.test(frame),
			'the finding with its fix key',
		);
		ui.press('backup');
		await ui.waitFor(frame => frame.includes('Back up web9'), 'the backup dialog from the health view');
		ui.press('backupAuto');
		await ui.waitFor(
			frame =>
				/✓ backup of web9 done/.test(frame) &&
				/▸ WARN web9 +no backup of web9 was ever verified \[v verify\]/.test(frame),
			'the next finding after the backup',
		);
		ui.press('verify');
		await ui.waitFor(
			frame => /✓ verify web9 \S+ done/.test(frame) && frame.includes('Health of 1 VM: all well'),
			'all well after the verification',
		);
		ui.press('back');
		await ui.waitFor(frame => /▸ ✓ web9 +stopped/.test(frame), 'the ok badge');
		expect((await service.backups('web9'))[0]!.verified).toMatchObject({ok: true});
	});
});
