import {formatBytes} from '../../core/units.js';
import type {Offsite} from '../../service/ports.js';
import type {ActionContext} from './action-context.js';

/** What the backup screens send off-site: a point copied to a restic target, as a job. */
export function offsiteActions({service, jobs, notice, failed}: ActionContext<Offsite>) {
	return {
		/** Copies off-site to the target a copy goes to by default (the policy's, else the config's only one); none is a note on the status line, not a failed job. */
		copy(vm: string, point?: string) {
			void service.offsiteTargetOf(vm).then(found => {
				if ('reason' in found) return notice(found.reason);
				jobs.run(
					`copy ${vm}${point ? ` ${point}` : ''} to ${found.name}`,
					async ({signal, onEvent}) => {
						const copied = await service.copy(vm, found.target, {
							point,
							command: `snapdeck ui: copy ${vm}`,
							signal,
							onEvent,
						});
						return {
							outcome: 'done',
							message: copied.already
								? `point ${copied.point} was there already`
								: `point ${copied.point}, ${formatBytes(copied.uploaded)} uploaded`,
						};
					},
					vm,
				);
			}, failed);
		},
	};
}
