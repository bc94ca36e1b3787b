import {render} from 'ink-testing-library';
import {describe, expect, it} from 'vitest';
import type {Finding} from '../../source/core/health.js';
import {HealthList} from '../../source/ui/components/health-list.js';
import {ThemeContext, themeFor} from '../../source/ui/theme.js';
import {sessionPorts} from '../../source/service/session-ports.js';
import {labWithVm, tempDir} from '../helpers/lab.js';
import {renderApp, stripAnsi} from '../helpers/ui.js';

describe('health in the terminal UI', () => {
	it('a badge per VM, H lists the findings with the key that fixes each, and fixing one clears it', async () => {
		const lab = await labWithVm('web9');
		await lab.write(0xd1, 1);
		const service = sessionPorts(lab.hypervisor, {repository: await tempDir()});
		const ui = renderApp(service);
		await ui.waitFor(frame => /▸ ! web9 +stopped/.test(frame), 'a warning badge (no backup)');

		ui.press('health');
		await ui.waitFor(frame => frame.includes('Health of 1 VM: 0 critical, 1 warning (no image checks: snapdeck health)') && /▸ WARN web9 +web9 has no backup: snapshots are not backups \[b backup\]/.test(frame), 'the finding with its fix key');
		ui.press('backup');
		await ui.waitFor(frame => frame.includes('Back up web9'), 'the backup dialog from the health view');
		ui.press('backupAuto');
		await ui.waitFor(frame => /✓ backup of web9 done/.test(frame) && /▸ WARN web9 +no backup of web9 was ever verified \[v verify\]/.test(frame), 'the next finding after the backup');
		ui.press('verify');
		await ui.waitFor(frame => /✓ verify web9 \S+ done/.test(frame) && frame.includes('Health of 1 VM: all well'), 'all well after the verification');
		ui.press('back');
		await ui.waitFor(frame => /▸ ✓ web9 +stopped/.test(frame), 'the ok badge');
		expect((await service.backups('web9'))[0]!.verified).toMatchObject({ok: true});
	});

	it('the header is whole at 80 columns with a hundred VMs and their findings: the note says which command checks the images', () => {
		const findings: Finding[] = Array.from({length: 113}, (_, index) => ({rule: 'backup-missing', severity: index < 12 ? 'critical' : 'warning', vm: `vm${index}`, message: 'no backup'}));
		const {lastFrame, unmount} = render(<ThemeContext.Provider value={themeFor(true)}><HealthList findings={findings} vms={100} cursor={0} height={10} width={80} fixKeys={{}} /></ThemeContext.Provider>);
		const header = stripAnsi(lastFrame()!).split('\n')[0]!;
		unmount();
		expect(header).toBe('Health of 100 VMs: 12 critical, 101 warnings (no image checks: snapdeck health)');
		expect(header.length).toBeLessThanOrEqual(80);
	});
});
