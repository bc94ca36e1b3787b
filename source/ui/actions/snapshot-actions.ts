import type {VmSummary} from '../../core/model.js';
import {nameProblem} from '../../core/names.js';
import {errorMessage} from '../../core/errors.js';
import type {Inventory} from '../../service/ports.js';
import {defaultSnapshotName, type TakeForm} from '../components/dialogs.js';
import type {ActionContext} from './action-context.js';

/** The take dialog's form as it opens: what cannot be asked for this VM says why. */
function takeForm(vm: string, now: Date, running: boolean, asking: boolean): TakeForm {
	return {
		vm,
		name: defaultSnapshotName(now),
		description: '',
		field: 'name',
		internal: false,
		memory: false,
		quiesce: false,
		memoryUnavailable: running ? null : 'the VM is not running',
		// Quiescing freezes a running guest's filesystems through its agent: offered once the agent
		// of this VM answers (asked again before the snapshot), not for every VM of a connection that has agents.
		quiesceUnavailable: !running
			? 'the VM is not running'
			: asking
				? 'asking its guest agent…'
				: 'no guest agent on this connection',
	};
}

/** What the snapshot screens start: the take dialog, a snapshot, a revert or a merge, each a job. */
export function snapshotActions(
	{service, jobs, dispatch}: ActionContext<Inventory>,
	now: () => Date,
	summary: (vm: string) => VmSummary | undefined,
) {
	return {
		openTake(vm: string): string | void {
			const running = summary(vm)?.state === 'running';
			const asking = running && service.connection.canQuiesce;
			dispatch({type: 'open', overlay: {kind: 'take', at: null, form: takeForm(vm, now(), running, asking)}});
			if (asking) {
				void service.canQuiesce(vm).then(
					answers =>
						dispatch({type: 'quiesceChecked', vm, unavailable: answers ? null : 'no guest agent answers in the VM'}),
					(error: unknown) =>
						dispatch({
							type: 'quiesceChecked',
							vm,
							unavailable: `its guest agent could not be asked: ${errorMessage(error)}`,
						}),
				);
			}
		},
		/** Starts the snapshot; an invalid name is returned, for the status line (the dialog stays). */
		take(form: TakeForm): string | null {
			const problem = nameProblem(form.name);
			if (problem) return `invalid name: ${problem}`;
			const kind = form.internal || form.memory ? ('internal' as const) : ('external' as const);
			jobs.start(
				{
					kind: 'take',
					vm: form.vm,
					request: {
						name: form.name,
						description: form.description,
						kind,
						memory: form.memory,
						quiesce: form.quiesce,
						now: now(),
					},
				},
				`take '${form.name}' of ${form.vm}`,
			);
			return null;
		},
		onSnapshot(kind: 'revert' | 'merge', vm: string, snapshot: string) {
			jobs.start({kind, vm, snapshot}, `${kind} ${vm} ${kind === 'revert' ? 'to' : 'away'} '${snapshot}'`);
		},
	};
}
