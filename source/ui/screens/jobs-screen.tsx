import {Box} from 'ink';
import {Text} from '../components/text.js';
import {progressText} from '../../core/describe.js';
import {colorOf, jobLines, MARK} from '../components/jobs-panel.js';
import {ProgressBar} from '../components/progress-bar.js';
import {jobDetails} from '../details.js';
import {isActive} from '../hooks/use-jobs.js';
import {fit, windowStart} from '../layout.js';
import {useTheme} from '../theme.js';
import {useBinding, useCursor, type Screen, type ScreenProps} from './screen.js';

/** Every job of this window, running and ended, newest last: cancel the selected one, Enter shows it with its log. */
function JobsScreen({context, visible}: ScreenProps) {
	const theme = useTheme();
	const {jobs, dispatch, height, width} = context;
	const all = jobs.jobs;
	const cursor = useCursor(context, 'jobs', all, job => String(job.id));
	const job = cursor.current;
	useBinding(context, {
		rows: cursor.keys,
		vm: undefined,
		commands: {
			open: () =>
				job
					? dispatch({
							type: 'open',
							overlay: {kind: 'details', title: `Job ${job.id}: ${job.title}`, lines: jobDetails(job), scroll: 0},
						})
					: 'no job yet',
			cancelJob: () => {
				if (!job) return 'no job yet';
				if (!isActive(job)) return `job ${job.id} has ended (${job.status}): nothing to cancel`;
				if (job.status === 'confirming') return `job ${job.id} waits for its confirmation: answer it to cancel`;
				if (!jobs.cancel(job.id)) return `job ${job.id} is being cancelled already`;
			},
		},
	});
	// Two rows a job: its line, and its step or progress or result.
	const rows = Math.max(1, Math.floor((height - 1) / 2));
	const start = windowStart(all.length, cursor.index, rows);
	const running = all.filter(isActive).length;
	return (
		<Box flexDirection="column" height={height} display={visible ? 'flex' : 'none'}>
			<Text bold wrap="truncate-end">
				Jobs of this window:{' '}
				{all.length === 0 ? 'none yet' : `${running} running, ${all.length - running} ended, newest last`}
			</Text>
			{all.slice(start, start + rows).map((shown, offset) => {
				const selected = start + offset === cursor.index;
				const {head, progress} = jobLines(shown);
				return (
					<Box key={shown.id} flexDirection="column">
						<Text wrap="truncate-end" inverse={selected}>
							{selected ? '▸ ' : '  '}
							<Text color={selected ? undefined : colorOf(shown.status, theme)}>{MARK[shown.status]}</Text>{' '}
							{fit(`${shown.id}`, 3)} {shown.title} <Text color={selected ? undefined : theme.muted}>{head}</Text>
						</Text>
						{progress ? (
							<Text wrap="truncate-end">
								{'      '}
								<ProgressBar fraction={progress.fraction} width={Math.max(5, Math.min(20, width - 50))} />{' '}
								{progressText(progress)}
							</Text>
						) : (
							<Text wrap="truncate-end" color={theme.muted}>
								{'      '}
								{shown.message ?? shown.log.at(-1) ?? ''}
							</Text>
						)}
					</Box>
				);
			})}
		</Box>
	);
}

export const jobsScreen: Screen = {
	name: 'jobs',
	label: 'the jobs screen',
	title: () => 'VMs › jobs',
	opensAt: 'last',
	Component: JobsScreen,
};
