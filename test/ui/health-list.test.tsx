import {render} from 'ink-testing-library';
import {describe, expect, it} from 'vitest';
import type {Finding} from '../../source/core/health.js';
import {HealthList} from '../../source/ui/components/health-list.js';
import {ThemeContext, themeFor} from '../../source/ui/theme.js';
import {stripAnsi} from '../helpers/ui.js';

/** The health view's own rendering: test/ui/health-screen.test.tsx has its keys on a real lab. */
describe('the health list', () => {
	it('the header is whole at 80 columns with a hundred VMs and their findings: the note says which command checks the images', () => {
		const findings: Finding[] = Array.from({length: 113}, (_, index) => ({
			rule: 'backup-missing',
			severity: index < 12 ? 'critical' : 'warning',
			vm: `vm${index}`,
			message: 'no backup',
		}));
		const {lastFrame, unmount} = render(
			<ThemeContext.Provider value={themeFor(true)}>
				<HealthList findings={findings} vms={100} cursor={0} height={10} width={80} fixKeys={{}} />
			</ThemeContext.Provider>,
		);
		const header = stripAnsi(lastFrame()!).split('\n')[0]!;
		unmount();
		expect(header).toBe('Health of 100 VMs: 12 critical, 101 warnings (no image checks: snapdeck health)');
		expect(header.length).toBeLessThanOrEqual(80);
	});
});
