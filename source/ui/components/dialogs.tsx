import {Box, Text} from 'ink';
import {planLines} from '../../core/describe.js';
import type {Plan} from '../../core/plan.js';
import {useTheme} from '../theme.js';

/** Shows the plan, every file it touches and what is lost, before anything happens. */
export function ConfirmDialog({plan, height}: {plan: Plan; height: number}) {
	const theme = useTheme();
	const lines = planLines(plan);
	const shown = lines.slice(0, Math.max(3, height - 3));
	return (
		<Box flexDirection="column" borderStyle="round" borderColor={theme.warn} paddingX={1}>
			{shown.map((line, index) => (
				<Text key={index} wrap="truncate-end" bold={index === 0} color={line.startsWith('Discards') || line.startsWith('Deletes') ? theme.warn : undefined}>{line}</Text>
			))}
			{shown.length < lines.length && <Text color={theme.muted}>… {lines.length - shown.length} more lines (--dry-run on the command line shows all)</Text>}
			<Text bold>Proceed?</Text>
		</Box>
	);
}

export interface TakeForm {
	readonly vm: string;
	readonly name: string;
	readonly description: string;
	readonly field: 'name' | 'description';
	readonly internal: boolean;
}

/** Name and description of a new snapshot; the name starts as a timestamp. */
export function TakeDialog({form, error}: {form: TakeForm; error: string | null}) {
	const theme = useTheme();
	const cursor = (field: TakeForm['field']) => (form.field === field ? '▏' : '');
	return (
		<Box flexDirection="column" borderStyle="round" borderColor={theme.accent} paddingX={1}>
			<Text bold>Take a snapshot of {form.vm}</Text>
			<Text>Name:        <Text inverse={form.field === 'name'}>{form.name}{cursor('name')}</Text></Text>
			<Text>Description: <Text inverse={form.field === 'description'}>{form.description}{cursor('description')}</Text></Text>
			<Text color={theme.muted}>External disk snapshot (a new overlay on each disk).</Text>
			{error && <Text color={theme.error}>{error}</Text>}
		</Box>
	);
}

export const defaultSnapshotName = (now: Date) =>
	`snap-${now.toISOString().slice(0, 19).replaceAll('-', '').replace('T', '-').replaceAll(':', '')}`;

/** The kind of backup to start: auto (incremental when the VM's bitmaps allow), full or incremental. */
export function BackupDialog({vm, repository}: {vm: string; repository: string}) {
	const theme = useTheme();
	return (
		<Box flexDirection="column" borderStyle="round" borderColor={theme.accent} paddingX={1}>
			<Text bold>Back up {vm}</Text>
			<Text wrap="truncate-end">into {repository}</Text>
			<Text color={theme.muted}>auto: incremental when the last backup's dirty bitmaps are still on the disks, else full (and why).</Text>
		</Box>
	);
}

export interface RestoreForm {
	readonly vm: string;
	readonly point: string;
	readonly name: string;
}

/** The name of the new VM a point is restored as. */
export function RestoreDialog({form, error}: {form: RestoreForm; error: string | null}) {
	const theme = useTheme();
	return (
		<Box flexDirection="column" borderStyle="round" borderColor={theme.accent} paddingX={1}>
			<Text bold>Restore point {form.point} of {form.vm} as a new VM</Text>
			<Text>Name: <Text inverse>{form.name}▏</Text></Text>
			<Text color={theme.muted}>New images beside the other VMs; nothing existing is written to.</Text>
			{error && <Text color={theme.error}>{error}</Text>}
		</Box>
	);
}
