import {nameProblem} from '../../core/names.js';
import type {Restores} from '../../service/ports.js';
import type {RestoreForm} from '../components/dialogs.js';
import type {ActionContext} from './action-context.js';

/** What the backup screens restore: the dialog, then a new VM from a point, as a job. */
export function restoreActions({service, jobs, dispatch}: ActionContext<Restores>) {
	return {
		openRestore(vm: string, point: string) {
			dispatch({type: 'open', overlay: {kind: 'restore', at: null, form: {vm, point, name: `${vm}-restored`}}});
		},
		/** Starts the restore; an invalid name is returned, for the status line (the dialog stays). */
		restore(form: RestoreForm): string | null {
			const problem = nameProblem(form.name);
			if (problem) return `invalid name: ${problem}`;
			jobs.run(
				`restore ${form.vm} ${form.point} as ${form.name}`,
				async ({signal, onEvent}) => {
					await service.restore(form.vm, {
						point: form.point,
						as: form.name,
						command: `snapdeck ui: restore ${form.vm}`,
						signal,
						onEvent,
					});
					return {outcome: 'done', message: `new VM ${form.name}`};
				},
				form.vm,
			);
			return null;
		},
	};
}
