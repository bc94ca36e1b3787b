import type {Dispatch} from 'react';
import type {VmSummary} from '../core/model.js';
import type {Backups, Inventory, Offsite, Restores} from '../service/ports.js';
import {actionContext} from './actions/action-context.js';
import {backupActions} from './actions/backup-actions.js';
import {offsiteActions} from './actions/offsite-actions.js';
import {restoreActions} from './actions/restore-actions.js';
import {snapshotActions} from './actions/snapshot-actions.js';
import {isActive, type Jobs} from './hooks/use-jobs.js';
import type {UiAction} from './state.js';

/**
 * What the screens start: each change as a job of the one job list (plan, confirmation, progress,
 * cancel), grouped by role under actions/. A returned string is why it cannot start, for the status line.
 */
export function makeActions(
	service: Inventory & Backups & Restores & Offsite,
	jobs: Jobs,
	dispatch: Dispatch<UiAction>,
	now: () => Date,
	inventory: readonly VmSummary[] | null,
) {
	const summary = (vm: string) => inventory?.find(candidate => candidate.name === vm);

	/** Why the VM cannot be changed now: a job of this window is at work on it, or another snapdeck's holds its lock. */
	const busy = (vm: string): string | null => {
		const here = jobs.jobs.find(job => job.vm === vm && isActive(job));
		if (here) return `${vm} is busy: job ${here.id} here (${here.title}); wait for it, or cancel it on the jobs screen`;
		const holder = summary(vm)?.busy;
		return holder ? `${vm} is busy: ${holder}; wait for that job, or cancel it where it runs` : null;
	};

	const context = actionContext(service, jobs, dispatch);
	return {
		busy,
		...snapshotActions(context, now, summary),
		...backupActions(context),
		...restoreActions(context),
		...offsiteActions(context),
	};
}

export type Actions = ReturnType<typeof makeActions>;
