import {Box} from 'ink';
import {Text} from './text.js';
import {ageText} from '../../core/describe.js';
import type {Severity} from '../../core/health.js';
import type {VmSummary} from '../../core/model.js';
import {fit, windowStart} from '../layout.js';
import {useTheme} from '../theme.js';

interface Props {
	readonly now: Date;
	/** Each VM's worst finding, once health has been read. */
	readonly health?: ReadonlyMap<string, Severity>;
	readonly vms: readonly VmSummary[];
	readonly selected: number;
	readonly height: number;
	readonly width: number;
	/** What to say when there is no row: no VM at all, or none matching the filter. */
	readonly empty: string;
}

/** The VM list; only the rows that fit are rendered, however many VMs there are. */
const BADGE: Record<Severity, string> = {ok: '✓', warning: '!', critical: '✗'};

export function VmList({vms, selected, height, width, now, health, empty}: Props) {
	const theme = useTheme();
	const rows = Math.max(1, height - 1);
	const start = windowStart(vms.length, selected, rows);
	const longest = Math.min(24, Math.max(4, ...vms.slice(start, start + rows).map(vm => vm.name.length)));
	// Every column where they fit (80 columns); else (40 columns, a phone) the ones that say what to do
	// next, where the VM is and when it was last backed up, before the counts, which are what goes.
	const full = width - longest - 53 >= 8;
	// Narrow, a long name leaves STATE and BACKUP their room, and CURRENT goes whole where 8 columns
	// are not left for it: never a snapshot's name cut to a stub, nor BACKUP pushed off the edge.
	const nameWidth = full ? longest : Math.max(4, Math.min(longest, width - 21));
	const withCurrent = full || width - nameWidth - 23 >= 8;
	const currentWidth = Math.max(8, width - nameWidth - (full ? 53 : 23));
	const line = (
		name: string,
		state: string,
		disks: string,
		snaps: string,
		depth: string,
		backup: string,
		offsite: string,
		current: string,
	) =>
		full
			? `${fit(name, nameWidth)}  ${fit(state, 8)} ${disks.padStart(5)} ${snaps.padStart(5)} ${depth.padStart(5)} ${backup.padStart(6)} ${offsite.padStart(7)}  ${fit(current, currentWidth)}`
			: `${fit(name, nameWidth)}  ${fit(state, 8)} ${backup.padStart(6)}${withCurrent ? `  ${fit(current, currentWidth)}` : ''}`;
	const age = (at: string | null | undefined) => (at ? ageText(at, now) : at === null ? 'never' : '-');
	return (
		<Box flexDirection="column" height={height}>
			<Text
				bold
				wrap="truncate-end"
			>{`    ${line('NAME', 'STATE', 'DISKS', 'SNAPS', 'DEPTH', 'BACKUP', 'OFFSITE', 'CURRENT')}`}</Text>
			{vms.length === 0 && <Text color={theme.muted} wrap="truncate-end">{`    ${empty}`}</Text>}
			{vms.slice(start, start + rows).map((vm, offset) => {
				const index = start + offset;
				const isSelected = index === selected;
				const stateColor = vm.error
					? theme.error
					: vm.busy
						? theme.warn
						: vm.state === 'running'
							? theme.ok
							: undefined;
				const text = line(
					vm.name,
					vm.error ? 'damaged' : vm.busy ? 'busy' : vm.state,
					String(vm.disks.length),
					String(vm.snapshots),
					String(vm.chainDepth),
					age(vm.lastBackup),
					age(vm.lastOffsite),
					vm.error ?? vm.current ?? '-',
				);
				const severity = health?.get(vm.name);
				const badgeColor = severity === 'critical' ? theme.error : severity === 'warning' ? theme.warn : theme.ok;
				return (
					<Text key={vm.name} inverse={isSelected} color={isSelected ? undefined : stateColor} wrap="truncate-end">
						{isSelected ? '▸ ' : '  '}
						<Text color={isSelected ? undefined : badgeColor}>{severity ? BADGE[severity] : '·'}</Text> {text}
					</Text>
				);
			})}
		</Box>
	);
}
