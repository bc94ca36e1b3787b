import type {JournalEntry} from './plan.js';

/**
 * Every kind of job the runner runs (jobs/run-job.ts), with the steps each marks (JobContext.step).
 * The fault suite (test/e2e/faults.test.ts) enumerates this table and kills each kind at each of
 * its steps, so a new kind, or a new step, is covered by being declared here: a kind the suite has
 * no scenario for fails it. Plans (take, revert, merge, prune) are killed at every step of their
 * plan instead (SNAPDECK_CRASH_AT=during:N / after:N).
 */
export const JOB_KINDS = {
	/** Full or incremental backup: the partial point recorded, the disks copied, the archive copied, the files hashed, the point audited. */
	backup: {action: 'backup', steps: ['recorded', 'copied', 'archiving', 'hashed', 'auditing']},
	/** A point to new images (--to) or as a new VM (--as): each disk written in a work folder, then given its name. */
	restore: {action: 'restore', steps: ['writing', 'written', 'placed']},
	/** A point written over a stopped VM's disks, after a safety snapshot. */
	'restore-in-place': {action: 'restore', steps: ['snapshot-taken', 'writing']},
	/** A new VM running at once from the point, its data streamed in. */
	'restore-instant': {action: 'restore', steps: ['marked', 'created', 'started', 'streaming', 'streamed']},
	/** A point fetched from an off-site target, checked, then restored as a local point is. */
	'restore-from': {action: 'restore', steps: ['fetched', 'checked', 'writing', 'written', 'placed']},
	/** A point copied to an off-site target. */
	copy: {action: 'copy', steps: ['staged', 'uploaded']},
	/** Points forgotten on an off-site target. */
	'prune-offsite': {action: 'prune', steps: ['forgetting', 'forgotten']},
	/** A point booted in a throwaway VM. */
	'boot-test': {action: 'boot-test', steps: ['overlays', 'booting', 'judged']},
	/** Points checked against their checksums, optionally restored to scratch images. */
	verify: {action: 'verify', steps: ['hashing', 'restore-test']},
	/** A file or folder copied out of a point. */
	extract: {action: 'extract', steps: ['extracting', 'extracted']},
	start: {action: 'start', steps: []},
	stop: {action: 'stop', steps: []},
	checkpoints: {action: 'checkpoints', steps: []},
} as const satisfies Record<string, {readonly action: JournalEntry['action']; readonly steps: readonly string[]}>;

export type JobKind = keyof typeof JOB_KINDS;

/** Whether `step` is declared for `kind`. */
export const declaresStep = (kind: JobKind, step: string) =>
	(JOB_KINDS[kind].steps as readonly string[]).includes(step);
