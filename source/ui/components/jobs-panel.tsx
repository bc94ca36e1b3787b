import {Box} from 'ink';
import {Text} from './text.js';
import {progressText} from '../../core/describe.js';
import {isActive, type Job, type JobStatus} from '../hooks/use-jobs.js';
import {wrapLines} from '../layout.js';
import {useTheme, type Theme} from '../theme.js';
import {ProgressBar} from './progress-bar.js';

export const MARK: Record<JobStatus, string> = {planning: '…', confirming: '?', running: '▶', done: '✓', failed: '✗', cancelled: '■', declined: '·'};
export const colorOf = (status: JobStatus, theme: Theme) =>
	status === 'done' ? theme.ok : status === 'failed' ? theme.error : status === 'cancelled' ? theme.warn : theme.accent;

const JOBS_SHOWN = 3;
const MESSAGE_LINES = 4;

/** The lines of one job: its title and state, a progress line while it copies, and why it failed. */
export function jobLines(job: Job, width: number) {
	const step = job.step && job.status === 'running' ? ` [${job.step.index + 1}/${job.step.total}] ${job.step.summary}` : '';
	const short = job.status === 'declined' && job.message ? `: ${job.message}` : '';
	const reason = job.message && job.status !== 'declined' ? wrapLines(job.message, width - 2, MESSAGE_LINES) : [];
	const cancelling = job.cancelAsked && isActive(job) ? ' (cancelling…)' : '';
	return {head: `${job.status}${cancelling}${step}${short}`, progress: job.status === 'running' ? job.progress : null, reason};
}

/** How many rows the panel takes, so the view above it can be given the rest. */
export const jobsPanelHeight = (jobs: readonly Job[], width: number) =>
	jobs.slice(-JOBS_SHOWN).reduce((rows, job) => {
		const lines = jobLines(job, width);
		return rows + 1 + (lines.progress ? 1 : 0) + lines.reason.length;
	}, 0);

/** The newest jobs; each long one with its progress bar, each failed one with its reason in full. */
export function JobsPanel({jobs, width}: {jobs: readonly Job[]; width: number}) {
	const theme = useTheme();
	if (jobs.length === 0) return null;
	return (
		<Box flexDirection="column">
			{jobs.slice(-JOBS_SHOWN).map(job => {
				const {head, progress, reason} = jobLines(job, width);
				return (
					<Box key={job.id} flexDirection="column">
						<Text wrap="truncate-end">
							<Text color={colorOf(job.status, theme)}>{MARK[job.status]}</Text> {job.title} <Text color={theme.muted}>{head}</Text>
						</Text>
						{progress && (
							<Text wrap="truncate-end">
								{'  '}<ProgressBar fraction={progress.fraction} width={20} /> {progressText(progress)}
							</Text>
						)}
						{reason.map((line, index) => <Text key={index} color={colorOf(job.status, theme)}>{'  '}{line}</Text>)}
					</Box>
				);
			})}
		</Box>
	);
}
