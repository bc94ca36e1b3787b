import {SnapdeckError} from '../core/errors.js';
import {assertNoProblems} from '../core/consistency.js';
import type {Plan} from '../core/plan.js';
import {planMerge, planRevert, planTake} from '../core/planner.js';
import {roleOf, type Inspection} from '../adapters/hypervisor.js';
import {runJob} from '../jobs/run-job.js';
import {runPlan} from '../jobs/run-plan.js';
import {describePending} from './leftovers.js';
import type {Action, Outcome, PerformOptions, Snapshots} from './ports.js';
import type {SessionContext} from './session-context.js';

/** The Snapshots port: take, revert and merge, each planned, confirmed and run under the VM's lock; start and stop. */
export const snapshotsPort = (session: SessionContext): Snapshots => ({
	perform: (action, options) => perform(session, action, options),
	power: (vm, on, command) => power(session, vm, on, command),
});

/** The plan of a change to a VM's snapshots, refused while its inspection finds a problem. */
export function planAction(action: Action, inspection: Inspection): Plan {
	assertNoProblems(action.vm, `${action.kind} on`, inspection.problems);
	switch (action.kind) {
		case 'take':
			return planTake(inspection.state, action.request);
		case 'revert':
			return planRevert(inspection.state, action.snapshot);
		case 'merge':
			return planMerge(inspection.state, action.snapshot);
	}
}

/**
 * The inspection an action is planned from. A revert discards the disks' active images: what each
 * holds is measured (the header's figures count tables, not data), so its plan says what is lost.
 */
async function inspectFor(session: SessionContext, action: Action): Promise<Inspection> {
	const inspection = await session.inspect(action.vm);
	const measure = session.hypervisor.roles.imageChecks?.writtenBytes;
	if (action.kind !== 'revert' || !measure || inspection.problems.length > 0) return inspection;
	const {state} = inspection;
	// Unmeasured, the plan says the files' size on disk instead.
	const written = await measure(
		inspection,
		state.definition.disks.map(disk => disk.file),
	).catch(() => ({}) as Record<string, number>);
	const images = {...state.images};
	for (const [file, bytes] of Object.entries(written))
		if (images[file]) images[file] = {...images[file], writtenBytes: bytes};
	return {...inspection, state: {...state, images}};
}

/** Plans the action and, unless it is a dry run or declined, runs it under the VM's lock. */
async function perform(
	session: SessionContext,
	action: Action,
	options: PerformOptions,
): Promise<{plan: Plan; outcome: Outcome}> {
	const {hypervisor} = session;
	if (options.dryRun) {
		const inspection = await inspectFor(session, action);
		const plan = planAction(action, inspection);
		await hypervisor.preflight(inspection, plan);
		return {plan, outcome: 'dry-run'};
	}
	const release = await hypervisor.lock(action.vm, options.command);
	try {
		return await performLocked(session, action, options);
	} finally {
		await release();
	}
}

/** perform() for a caller that already holds the VM's lock (a restore in place takes its safety snapshot so). */
export async function performLocked(
	session: SessionContext,
	action: Action,
	options: PerformOptions,
): Promise<{plan: Plan; outcome: Outcome}> {
	const {hypervisor} = session;
	const operations = hypervisor.operations(action.vm);
	const pending = await operations.readPending();
	if (pending) {
		throw new SnapdeckError(
			'interrupted',
			describePending(action.vm, pending),
			`run 'snapdeck recover ${action.vm}' to finish it first`,
		);
	}
	const inspection = await inspectFor(session, action);
	const plan = planAction(action, inspection);
	await hypervisor.preflight(inspection, plan);
	if (!(await options.confirm(plan))) return {plan, outcome: 'declined'};
	await runPlan(plan, hypervisor.executor(inspection), operations, {
		command: options.command,
		signal: options.signal,
		onEvent: options.onEvent,
	});
	return {plan, outcome: 'done'};
}

/** Starts or stops a VM, under its lock; resolves false when it already was as asked. */
async function power(session: SessionContext, vm: string, on: boolean, command: string): Promise<boolean> {
	const power = roleOf(session.hypervisor, 'power', 'start or stop VMs');
	const result = await runJob({
		kind: on ? 'start' : 'stop',
		command,
		locks: [session.vmLock(vm)],
		journal: session.vmJournal(vm),
		run: async (job): Promise<{changed: boolean; how?: string}> => {
			const {state, problems} = await session.inspect(vm);
			if ((state.run === 'running') === on) return {changed: false};
			// QEMU opens a disk's chain from its headers: one that leads to a protocol, a device or a loop is never started.
			if (on) assertNoProblems(vm, 'start', problems);
			await job.begin('', on ? 'start' : `stop (${state.run})`);
			if (on) {
				await power.start(vm);
				return {changed: true};
			}
			const how = await power.stop(vm);
			return how === false ? {changed: false} : {changed: true, how};
		},
		// How a VM was stopped tells whether its guest could write what it had cached (a quit) or not (a signal).
		describe: ({how}) => (how === undefined ? '' : `stopped ${how}`),
	});
	return result.changed;
}
