import {SnapdeckError} from './errors.js';
import type {VmState} from './model.js';
import {planFiles, takenSnapshot, type Plan} from './plan.js';
import {formatBytes} from './units.js';

/** What an adapter answers for the one preflight (the questions only it can ask of its host). */
export interface PreflightHooks {
	/** The instant restore the VM is still in (its disks read a backup point), or null. */
	instant(): Promise<{point: string} | null>;
	/** Why the VM's guest agent cannot quiesce a snapshot now (no channel, no answer), or null when it can. */
	quiesceProblem(): Promise<{message: string; hint: string} | null>;
	/** Refusals of the adapter's own (what its hypervisor cannot do with this plan). */
	own(): Promise<void>;
	/** For each image file the plan reads or writes (and does not create): why it is damaged, or null. */
	damage(files: readonly string[]): Promise<ReadonlyArray<string | null>>;
	/** Where an image file of the VM is, as the operator would type it on its host. */
	locate(file: string): string;
	/** The free space of each file system the plan writes to, named for the operator. */
	freeSpace(): Promise<ReadonlyArray<{where: string; free: number}>>;
}

/**
 * Refuses, before anything changes, a plan the VM cannot take: one in the middle of an instant
 * restore, a quiesced snapshot without an agent that answers (never silently unquiesced), what
 * the adapter cannot do, a damaged image it would read or write, too little free space. The same
 * checks in the same order for every adapter; each adapter answers the questions (PreflightHooks).
 */
export async function preflight(state: VmState, plan: Plan, hooks: PreflightHooks): Promise<void> {
	const vm = state.definition.name;
	const instant = await hooks.instant();
	if (instant)
		throw new SnapdeckError(
			'refused',
			`${vm} is still being restored from backup point ${instant.point} (an instant restore): its disks read from the repository until that is done`,
			`wait for the restore to finish, or run 'snapdeck recover ${vm}' to finish it`,
		);
	const taken = takenSnapshot(plan);
	if (taken?.quiesced) {
		if (taken.kind !== 'external')
			throw new SnapdeckError(
				'refused',
				`cannot quiesce an internal snapshot of ${vm}`,
				'take an external one (leave out --internal), or leave out --quiesce',
			);
		const problem = await hooks.quiesceProblem();
		if (problem) throw new SnapdeckError('refused', problem.message, problem.hint);
	}
	await hooks.own();
	const {creates, writes} = planFiles(plan);
	const touched = [...new Set(plan.steps.flatMap(step => step.reads).concat(writes))].filter(
		file => state.images[file] && !creates.includes(file),
	);
	const verdicts = await hooks.damage(touched);
	for (const [index, file] of touched.entries()) {
		const verdict = verdicts[index];
		if (verdict)
			throw new SnapdeckError(
				'refused',
				`cannot ${plan.action} on ${vm}: ${file} is damaged (${verdict})`,
				`copy it somewhere safe, then inspect it with 'qemu-img check ${hooks.locate(file)}'`,
				'damaged',
			);
	}
	for (const {where, free} of await hooks.freeSpace()) {
		if (plan.space > free)
			throw new SnapdeckError(
				'refused',
				`cannot ${plan.action} on ${vm}: it needs ${formatBytes(plan.space)} free in ${where}, and ${formatBytes(free)} is available`,
				'free some space (merging old snapshots frees space too), then try again',
				'no-space',
			);
	}
}
