import {SnapdeckError} from '../../core/errors.js';
import type {VmState} from '../../core/model.js';
import type {Plan} from '../../core/plan.js';

/**
 * What libvirt cannot do that the planner's plan asks for: refused before any step, saying what
 * to do instead (the checks every adapter shares are core/preflight.ts's).
 */
export function refuseWhatLibvirtCannot(state: VmState, plan: Plan): void {
	const copiesMemory =
		plan.steps.some(step => step.op === 'copy-internal') &&
		state.definition.snapshots.find(snapshot => snapshot.name === plan.snapshot)?.memory;
	if (copiesMemory) {
		throw new SnapdeckError(
			'refused',
			`'${plan.snapshot}' saved memory in an image that other snapshots are now built on; libvirt would roll that image back under them`,
			'merge the later external snapshots first, or revert to a disk-only snapshot',
		);
	}
	const snapshot =
		plan.steps.some(step => step.op === 'internal-create') &&
		!plan.steps.some(step => step.op === 'internal-create' && step.memory);
	if (snapshot && state.run === 'running') {
		throw new SnapdeckError(
			'refused',
			`libvirt takes an internal snapshot of a running domain only with its memory`,
			`add --memory, or take an external (disk-only) snapshot`,
		);
	}
}
