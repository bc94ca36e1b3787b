import type {BackupMode} from '../../core/backup-manifest.js';
import {latestPoint} from '../../core/points.js';
import type {Retention} from '../../core/retention.js';
import {formatBytes} from '../../core/units.js';
import type {Backups} from '../../service/ports.js';
import type {JobContext, JobOutcome} from '../hooks/use-jobs.js';
import {withWarnings, type ActionContext} from './action-context.js';

type Task = (context: JobContext) => Promise<JobOutcome>;

/** A backup; its message: the point made, its size, why it is full where it is, and the warnings. */
const backupTask =
	(service: Backups, vm: string, mode: BackupMode): Task =>
	async ({signal, onEvent}) => {
		let why = '';
		const warnings: string[] = [];
		const point = await service.backup(vm, {
			mode,
			command: `snapdeck ui: backup ${vm}`,
			signal,
			onEvent,
			onDecision: decision => (why = decision.reason),
			onWarning: text => warnings.push(text),
		});
		const size = point.files.reduce((sum, file) => sum + file.size, 0);
		return {
			outcome: 'done',
			message: withWarnings(
				`${point.kind} point ${point.id}, ${formatBytes(size)}${why ? `; full because ${why}` : ''}`,
				warnings,
			),
		};
	};

/** A verify of one point: ok with its warnings, or failed with its problems. */
const verifyTask =
	(service: Backups, vm: string, point: string, restoreTest: boolean): Task =>
	async ({signal, onEvent}) => {
		const warnings: string[] = [];
		const [verdict] = await service.verify(vm, {
			point,
			restoreTest,
			command: `snapdeck ui: verify ${vm}`,
			signal,
			onEvent,
			onWarning: text => warnings.push(text),
		});
		return verdict!.ok
			? {outcome: 'done', message: withWarnings('ok', warnings)}
			: {outcome: 'failed', message: verdict!.problems.join('; ')};
	};

/** A prune by `retention`, confirmed; its message: what went and what stays. */
const pruneTask =
	(service: Backups, vm: string, retention: Retention): Task =>
	async ({signal, onEvent, confirm}) => {
		const result = await service.prune(vm, {retention, command: `snapdeck ui: prune ${vm}`, signal, onEvent, confirm});
		if (result.outcome === 'declined') return {outcome: 'declined'};
		if (result.outcome === 'resumed') return {outcome: 'done', message: 'finished the interrupted prune'};
		return {
			outcome: 'done',
			message:
				result.remove.length === 0
					? `nothing to prune: all ${result.keep.length} points are kept`
					: `removed ${result.remove.length}, kept ${result.keep.length}`,
		};
	};

/** What the backup screens start in the repository: backups, verifies and prunes, each a job. */
export function backupActions({service, jobs, dispatch, notice, failed}: ActionContext<Backups>) {
	const verify = (vm: string, point: string, restoreTest: boolean) =>
		jobs.run(
			`verify ${vm} ${point}${restoreTest ? ' with a restore test' : ''}`,
			verifyTask(service, vm, point, restoreTest),
			vm,
		);

	return {
		openBackup(vm: string): string | void {
			if (!service.repository) return 'no backup repository: pass --repo DIR';
			dispatch({type: 'open', overlay: {kind: 'backup', vm}});
		},
		backup(vm: string, mode: BackupMode) {
			jobs.run(`${mode === 'auto' ? '' : `${mode} `}backup of ${vm}`, backupTask(service, vm, mode), vm);
		},
		verify,
		/** Verifies the VM's newest point (the fix of a health finding). */
		verifyNewest(vm: string) {
			void service.backups(vm).then(all => {
				const newest = latestPoint(all);
				if (!newest) return notice(`${vm} has no backup to verify`);
				verify(vm, newest.id, false);
			}, failed);
		},
		/** Prunes by the VM's policy; no retention to prune by is a note on the status line, not a failed job. */
		prune(vm: string) {
			void service.retentionOf(vm).then(async ({policy, retention}) => {
				if (!retention)
					return notice(
						`${vm}: policy '${policy}' has no backups.retention to prune by: set one in ${await service.configFile()} ("backups": {"retention": {"daily": 7}} in a policy for ${vm})`,
					);
				jobs.run(`prune ${vm}`, pruneTask(service, vm, retention), vm, {planFirst: true});
			}, failed);
		},
	};
}
