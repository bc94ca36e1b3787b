import {readFile} from 'node:fs/promises';
import type {Policy} from '../core/policy.js';
import {nextRun} from '../core/schedule.js';
import {journalFile} from '../adapters/state/journal.js';

/** When each scheduled task last ran, by "connection|vm|task"; beside the journal. */
export const scheduleStateFile = () => `${journalFile().replace(/\.jsonl$/, '')}.schedule.json`;

export type ScheduleState = Record<string, {lastRun: string; outcome: string}>;

export async function readState(): Promise<ScheduleState> {
	return readFile(scheduleStateFile(), 'utf8').then(
		text => JSON.parse(text) as ScheduleState,
		() => ({}),
	);
}

/** Each VM's tasks: when they last ran and when they are next due. */
export async function scheduleOverview(
	uri: string,
	vms: readonly string[],
	policyOf: (vm: string) => Policy,
	now: Date,
	offsiteSchedule?: (policy: Policy) => string | undefined,
) {
	const state = await readState();
	return vms.flatMap(vm =>
		(['snapshots', 'backups', 'offsite'] as const).flatMap(task => {
			const policy = policyOf(vm);
			const schedule =
				task === 'offsite' ? (policy.offsite ? offsiteSchedule?.(policy) : undefined) : policy[task].schedule;
			if (schedule === undefined) return [];
			const last = state[`${uri}|${vm}|${task}`];
			return [
				{
					vm,
					task,
					schedule,
					lastRun: last?.lastRun ?? null,
					lastOutcome: last?.outcome ?? null,
					nextRun: nextRun(schedule, now)?.toISOString() ?? null,
				},
			];
		}),
	);
}
