import {Box} from 'ink';
import {Text} from './text.js';
import {progressText} from '../../core/describe.js';
import {isActive, type Job, type JobStatus} from '../hooks/use-jobs.js';
import type {MessageRow} from '../messages.js';
import {useTheme, type Theme} from '../theme.js';
import {ProgressBar} from './progress-bar.js';

export const MARK: Record<JobStatus, string> = {
	planning: '…',
	confirming: '?',
	running: '▶',
	done: '✓',
	failed: '✗',
	cancelled: '■',
	declined: '·',
};
export const colorOf = (status: JobStatus, theme: Theme) =>
	status === 'done' ? theme.ok : status === 'failed' ? theme.error : status === 'cancelled' ? theme.warn : theme.accent;

/** The lines of one job: its title and state, a progress line while it copies, and why it failed. */
export function jobLines(job: Job) {
	const step =
		job.step && job.status === 'running' ? ` [${job.step.index + 1}/${job.step.total}] ${job.step.summary}` : '';
	const short = job.status === 'declined' && job.message ? `: ${job.message}` : '';
	const cancelling = job.cancelAsked && isActive(job) ? ' (cancelling…)' : '';
	return {head: `${job.status}${cancelling}${step}${short}`, progress: job.status === 'running' ? job.progress : null};
}

/** The jobs' messages (messages.ts): a bounded area under the view, newest first. */
export function MessagesPanel({rows}: {rows: readonly MessageRow[]}) {
	const theme = useTheme();
	if (rows.length === 0) return null;
	return (
		<Box flexDirection="column">
			{rows.map((row, index) => {
				if (row.kind === 'more')
					return (
						<Text key="more" color={theme.muted} wrap="truncate-end">
							{row.text}
						</Text>
					);
				const {job, count} = row.entry;
				if (row.kind === 'head') {
					return (
						<Text key={`${job.id}`} wrap="truncate-end">
							<Text color={colorOf(job.status, theme)}>{MARK[job.status]}</Text> {job.title}{' '}
							<Text color={theme.muted}>
								{jobLines(job).head}
								{count > 1 ? ` ×${count}` : ''}
							</Text>
						</Text>
					);
				}
				if (row.kind === 'progress' && job.progress) {
					return (
						<Text key={`${job.id}p`} wrap="truncate-end">
							{'  '}
							<ProgressBar fraction={job.progress.fraction} width={20} /> {progressText(job.progress)}
						</Text>
					);
				}
				return (
					<Text key={`${job.id}d${index}`} color={colorOf(job.status, theme)} wrap="truncate-end">
						{'  '}
						{row.kind === 'detail' ? row.text : ''}
					</Text>
				);
			})}
		</Box>
	);
}
