import {Box} from 'ink';
import {Text} from './text.js';
import type {Finding} from '../../core/health.js';
import {fit, windowStart} from '../layout.js';
import {useTheme} from '../theme.js';

interface Props {
	/** Worst first. */
	readonly findings: readonly Finding[];
	readonly vms: number;
	readonly cursor: number;
	readonly height: number;
	readonly width: number;
	/** The keys that fix a finding, by fix ('backup' -> 'b'), from the keymap. */
	readonly fixKeys: Readonly<Record<string, string>>;
}

/** Every finding of every VM, worst first, each with the key that fixes it where one does. */
export function HealthList({findings, vms, cursor, height, width, fixKeys}: Props) {
	const theme = useTheme();
	const rows = Math.max(1, height - 1);
	const start = windowStart(findings.length, cursor, rows);
	const critical = findings.filter(finding => finding.severity === 'critical').length;
	return (
		<Box flexDirection="column" height={height}>
			<Text bold wrap="truncate-end">
				Health of {vms} VM{vms === 1 ? '' : 's'}:{' '}
				{findings.length === 0 ? (
					<Text color={theme.ok}>all well</Text>
				) : (
					`${critical} critical, ${findings.length - critical} warning${findings.length - critical === 1 ? '' : 's'}`
				)}
				{/* Short enough that the whole line fits 80 columns with dozens of VMs and findings: the part cut was the command to run. */}
				<Text color={theme.muted}> (no image checks: snapdeck health)</Text>
			</Text>
			{findings.slice(start, start + rows).map((finding, offset) => {
				const isSelected = start + offset === cursor;
				const fix = finding.fix && fixKeys[finding.fix] ? ` [${fixKeys[finding.fix]} ${finding.fix}]` : '';
				const head = `${finding.severity === 'critical' ? 'CRIT' : 'WARN'} ${fit(finding.vm, 10)} `;
				return (
					<Text
						key={`${finding.vm}-${start + offset}`}
						inverse={isSelected}
						wrap="truncate-end"
						color={isSelected ? undefined : finding.severity === 'critical' ? theme.error : theme.warn}
					>
						{isSelected ? '▸ ' : '  '}
						{head}
						{fit(`${finding.message}${fix}`, Math.max(10, width - head.length - 2)).trimEnd()}
					</Text>
				);
			})}
		</Box>
	);
}
