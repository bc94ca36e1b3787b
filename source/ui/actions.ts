import type {Dispatch} from 'react';
import type {BackupMode} from '../core/backup-manifest.js';
import type {VmSummary} from '../core/model.js';
import {nameProblem} from '../core/names.js';
import {latestPoint} from '../core/points.js';
import {formatBytes} from '../core/units.js';
import type {Backups, Inventory, Offsite, Restores} from '../service/ports.js';
import {defaultSnapshotName, type RestoreForm, type TakeForm} from './components/dialogs.js';
import {isActive, type Jobs} from './hooks/use-jobs.js';
import type {UiAction} from './state.js';
import {errorMessage} from '../core/errors.js';

/**
 * What the screens start: each change as a job of the one job list (plan, confirmation, progress,
 * cancel). A returned string is why it cannot start, for the status line.
 */
export function makeActions(service: Inventory & Backups & Restores & Offsite, jobs: Jobs, dispatch: Dispatch<UiAction>, now: () => Date, inventory: readonly VmSummary[] | null) {
	const summary = (vm: string) => inventory?.find(candidate => candidate.name === vm);

	/** Why the VM cannot be changed now: a job of this window is at work on it, or another snapdeck's holds its lock. */
	const busy = (vm: string): string | null => {
		const here = jobs.jobs.find(job => job.vm === vm && isActive(job));
		if (here) return `${vm} is busy: job ${here.id} here (${here.title}); wait for it, or cancel it on the jobs screen`;
		const holder = summary(vm)?.busy;
		return holder ? `${vm} is busy: ${holder}; wait for that job, or cancel it where it runs` : null;
	};

	return {
		busy,
		openTake(vm: string): string | void {
			const running = summary(vm)?.state === 'running';
			const asking = running && service.connection.canQuiesce;
			dispatch({type: 'open', overlay: {kind: 'take', at: null, form: {
				vm, name: defaultSnapshotName(now()), description: '', field: 'name', internal: false, memory: false, quiesce: false,
				memoryUnavailable: running ? null : 'the VM is not running',
				// Quiescing freezes a running guest's filesystems through its agent: offered once the agent
				// of this VM answers (asked again before the snapshot), not for every VM of a connection that has agents.
				quiesceUnavailable: !running ? 'the VM is not running' : asking ? 'asking its guest agent…' : 'no guest agent on this connection',
			}}});
			if (asking) {
				void service.canQuiesce(vm).then(
					answers => dispatch({type: 'quiesceChecked', vm, unavailable: answers ? null : 'no guest agent answers in the VM'}),
					(error: unknown) => dispatch({type: 'quiesceChecked', vm, unavailable: `its guest agent could not be asked: ${errorMessage(error)}`}),
				);
			}
		},
		/** Starts the snapshot; an invalid name is returned, for the status line (the dialog stays). */
		take(form: TakeForm): string | null {
			const problem = nameProblem(form.name);
			if (problem) return `invalid name: ${problem}`;
			const kind = form.internal || form.memory ? 'internal' as const : 'external' as const;
			jobs.start({kind: 'take', vm: form.vm, request: {name: form.name, description: form.description, kind, memory: form.memory, quiesce: form.quiesce, now: now()}}, `take '${form.name}' of ${form.vm}`);
			return null;
		},
		onSnapshot(kind: 'revert' | 'merge', vm: string, snapshot: string) {
			jobs.start({kind, vm, snapshot}, `${kind} ${vm} ${kind === 'revert' ? 'to' : 'away'} '${snapshot}'`);
		},
		...backupActions(service, jobs, dispatch),
	};
}

/** What the backup screens start: backups, verifies, restores, prunes and off-site copies, each a job. */
function backupActions(service: Backups & Restores & Offsite, jobs: Jobs, dispatch: Dispatch<UiAction>) {
	const notice = (text: string) => dispatch({type: 'notice', text});
	const failed = (error: unknown) => notice(errorMessage(error));
	const verify = (vm: string, point: string, restoreTest: boolean) =>
		jobs.run(`verify ${vm} ${point}${restoreTest ? ' with a restore test' : ''}`, async ({signal, onEvent}) => {
			const warnings: string[] = [];
			const [verdict] = await service.verify(vm, {point, restoreTest, command: `snapdeck ui: verify ${vm}`, signal, onEvent, onWarning: text => warnings.push(text)});
			return verdict!.ok ? {outcome: 'done', message: ['ok', ...warnings.map(text => `warning: ${text}`)].join('; ')} : {outcome: 'failed', message: verdict!.problems.join('; ')};
		}, vm);

	return {
		openBackup(vm: string): string | void {
			if (!service.repository) return 'no backup repository: pass --repo DIR';
			dispatch({type: 'open', overlay: {kind: 'backup', vm}});
		},
		backup(vm: string, mode: BackupMode) {
			jobs.run(`${mode === 'auto' ? '' : `${mode} `}backup of ${vm}`, async ({signal, onEvent}) => {
				let why = '';
				const warnings: string[] = [];
				const point = await service.backup(vm, {mode, command: `snapdeck ui: backup ${vm}`, signal, onEvent, onDecision: decision => (why = decision.reason), onWarning: text => warnings.push(text)});
				const size = point.files.reduce((sum, file) => sum + file.size, 0);
				return {outcome: 'done', message: [`${point.kind} point ${point.id}, ${formatBytes(size)}${why ? `; full because ${why}` : ''}`, ...warnings.map(text => `warning: ${text}`)].join('; ')};
			}, vm);
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
		openRestore(vm: string, point: string) {
			dispatch({type: 'open', overlay: {kind: 'restore', at: null, form: {vm, point, name: `${vm}-restored`}}});
		},
		/** Starts the restore; an invalid name is returned, for the status line (the dialog stays). */
		restore(form: RestoreForm): string | null {
			const problem = nameProblem(form.name);
			if (problem) return `invalid name: ${problem}`;
			jobs.run(`restore ${form.vm} ${form.point} as ${form.name}`, async ({signal, onEvent}) => {
				await service.restore(form.vm, {point: form.point, as: form.name, command: `snapdeck ui: restore ${form.vm}`, signal, onEvent});
				return {outcome: 'done', message: `new VM ${form.name}`};
			}, form.vm);
			return null;
		},
		/** Prunes by the VM's policy; no retention to prune by is a note on the status line, not a failed job. */
		prune(vm: string) {
			void service.retentionOf(vm).then(async ({policy, retention}) => {
				if (!retention) return notice(`${vm}: policy '${policy}' has no backups.retention to prune by: set one in ${await service.configFile()} ("backups": {"retention": {"daily": 7}} in a policy for ${vm})`);
				jobs.run(`prune ${vm}`, async ({signal, onEvent, confirm}) => {
					const result = await service.prune(vm, {retention, command: `snapdeck ui: prune ${vm}`, signal, onEvent, confirm});
					if (result.outcome === 'declined') return {outcome: 'declined'};
					if (result.outcome === 'resumed') return {outcome: 'done', message: 'finished the interrupted prune'};
					return {outcome: 'done', message: result.remove.length === 0 ? `nothing to prune: all ${result.keep.length} points are kept` : `removed ${result.remove.length}, kept ${result.keep.length}`};
				}, vm);
			}, failed);
		},
		/** Copies off-site to the target a copy goes to by default (the policy's, else the config's only one); none is a note on the status line, not a failed job. */
		copy(vm: string, point?: string) {
			void service.offsiteTargetOf(vm).then(found => {
				if ('reason' in found) return notice(found.reason);
				jobs.run(`copy ${vm}${point ? ` ${point}` : ''} to ${found.name}`, async ({signal, onEvent}) => {
					const copied = await service.copy(vm, found.target, {point, command: `snapdeck ui: copy ${vm}`, signal, onEvent});
					return {outcome: 'done', message: copied.already ? `point ${copied.point} was there already` : `point ${copied.point}, ${formatBytes(copied.uploaded)} uploaded`};
				}, vm);
			}, failed);
		},
	};
}

export type Actions = ReturnType<typeof makeActions>;
