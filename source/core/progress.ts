import type {Debris, PlanEvent} from './plan.js';

/**
 * The one rate and ETA: progress events from (done, total) byte counts, the rate since the
 * reporter was made. `now` is a monotonic clock in milliseconds (tests pass their own).
 */
export function byteProgress(
	onEvent: ((event: PlanEvent) => void) | undefined,
	index = 0,
	now: () => number = () => performance.now(),
) {
	const began = now();
	// `fraction` for work whose bytes are not known (a step of 0 bytes still moves).
	return (done: number, total: number, fraction = total > 0 ? done / total : 0) => {
		const seconds = (now() - began) / 1000;
		const rate = seconds > 0 ? done / seconds : 0;
		onEvent?.({
			type: 'progress',
			index,
			fraction,
			bytesDone: done,
			bytesTotal: total,
			rate,
			eta: rate > 0 ? (total - done) / rate : null,
		});
	};
}

/**
 * Bytes over parts (disks, files) worked on one after another or at once: each part's share of its
 * size as it reports a fraction, summed, against the size of them all, to `onBytes`.
 */
export function partsBytes<T>(
	parts: readonly T[],
	sizeOf: (part: T) => number,
	onBytes: (done: number, total: number) => void,
) {
	const total = parts.reduce((sum, part) => sum + sizeOf(part), 0);
	const done = new Map<T, number>();
	const sum = () => [...done.values()].reduce((all, bytes) => all + bytes, 0);
	return {
		total,
		of: (part: T) => (fraction: number) => {
			done.set(part, Math.round(fraction * sizeOf(part)));
			onBytes(sum(), total);
		},
		finished: (part: T) => {
			done.set(part, sizeOf(part));
		},
	};
}

/** What a job's work tells the runner: when it has begun, on what, and what a kill would leave (see jobs/run-job.ts). */
export interface JobContext {
	/** Journals the job as started, on `subject` (a point, a snapshot), with what it does. */
	begin(subject: string, message?: string): Promise<void>;
	/**
	 * A new private folder for the job's work inside `parent` (a restore's image before it takes its
	 * name, a copy's staging, a boot test's overlays): registered in the job's record first, then
	 * made, named `.snapdeck-work-TOKEN-LABEL` with the job's token in a file inside. Whatever is
	 * left of it when the job ends (or after a kill, at `recover`) is removed; nothing else is.
	 */
	workFolder(parent: string, label: string): Promise<string>;
	/** Registers, before it is made, a leftover that is not a folder (a throwaway VM), named with `token()` in it. */
	registers(debris: Debris): Promise<void>;
	/** The job's token, for what it names (a throwaway VM's name or description). */
	readonly token: string;
	/**
	 * Marks a step of the job (declared for its kind in core/job-kinds.ts): where the fault suite
	 * kills it (SNAPDECK_CRASH_AT=KIND:STEP) to prove that recover finds everything it left.
	 */
	step(name: string): void;
	/**
	 * Records that from here on a kill leaves the job's work half done where the operator must
	 * choose (a disk half restored in place): `hint` says what to do, and other jobs on the VM are
	 * refused until the same job is run again or `snapdeck recover` is told it was seen.
	 */
	halfDone(hint: string): Promise<void>;
}
