import {useCallback, useEffect, useRef, useState} from 'react';
import type {ProgressEvent} from '../../core/describe.js';
import type {Plan, PlanEvent} from '../../core/plan.js';
import type {Action, Snapshots} from '../../service/ports.js';
import {errorMessage} from '../../core/errors.js';

export type JobStatus = 'planning' | 'confirming' | 'running' | 'done' | 'failed' | 'cancelled' | 'declined';

export interface Job {
	readonly id: number;
	readonly title: string;
	/** The VM it changes or reads (its repository), if one: shown busy meanwhile. */
	readonly vm: string | null;
	readonly status: JobStatus;
	readonly step: {readonly index: number; readonly total: number; readonly summary: string} | null;
	readonly progress: ProgressEvent | null;
	readonly message: string | null;
	/** When it started and ended (ISO), and what happened to it, a line each: the job's log. */
	readonly startedAt: string;
	readonly endedAt: string | null;
	readonly log: readonly string[];
	/** Cancel was asked for; it is still running to its next safe point. */
	readonly cancelAsked: boolean;
}

/** A job still at work (cancel reaches it). */
export const isActive = (job: Job) => job.status === 'planning' || job.status === 'confirming' || job.status === 'running';

export interface PendingConfirmation {
	readonly jobId: number;
	readonly plan: Plan;
}

export interface JobContext {
	readonly signal: AbortSignal;
	readonly onEvent: (event: PlanEvent) => void;
	readonly confirm: (plan: Plan) => Promise<boolean>;
}

/** How a job ended; `message` is shown beside it (what was made, or why it failed). */
export interface JobOutcome {
	readonly outcome: 'done' | 'declined' | 'failed';
	readonly message?: string;
}

/** A person reads a few updates a second; more only costs bytes over SSH. */
export const PROGRESS_INTERVAL_MS = 250;

/** Runs actions as jobs: plan, confirmation, progress (throttled), cancel, outcome. */
export function useJobs(service: Snapshots, onFinished: () => void) {
	const [jobs, setJobs] = useState<Job[]>([]);
	const [confirmation, setConfirmation] = useState<PendingConfirmation | null>(null);
	const answers = useRef(new Map<number, (yes: boolean) => void>());
	const controllers = useRef(new Map<number, AbortController>());
	const nextId = useRef(1);

	// Leaving the UI cancels what still runs; each job stops at a safe point and can be recovered.
	useEffect(() => () => controllers.current.forEach(controller => controller.abort()), []);

	const update = useCallback((id: number, patch: Partial<Job>, line?: string) => setJobs(all => all.map(job => (job.id === id ? {...job, ...patch, log: line === undefined ? job.log : [...job.log, `${new Date().toISOString().slice(11, 19)} ${line}`]} : job))), []);
	const ended = useCallback((id: number, patch: Partial<Job>) => update(id, {...patch, endedAt: new Date().toISOString()}, `${patch.status}${patch.message ? `: ${patch.message}` : ''}`), [update]);

	/**
	 * Runs `task` as a job: its step and progress events update the job (progress at most every
	 * PROGRESS_INTERVAL_MS), its confirmation shows in the dialog, cancel aborts its signal.
	 */
	const run = useCallback((title: string, task: (context: JobContext) => Promise<JobOutcome>, vm: string | null = null) => {
		const id = nextId.current++;
		const controller = new AbortController();
		controllers.current.set(id, controller);
		const startedAt = new Date().toISOString();
		setJobs(all => [...all, {id, title, vm, status: 'planning', step: null, progress: null, message: null, startedAt, endedAt: null, cancelAsked: false, log: [`${startedAt.slice(11, 19)} planning`]}]);
		let lastProgress = 0;
		const onEvent = (event: PlanEvent) => {
			if (event.type === 'step') update(id, {status: 'running', step: {index: event.index, total: event.total, summary: event.summary}, progress: null}, `step ${event.index + 1}/${event.total}${event.resumed ? ' (resumed)' : ''}: ${event.summary}`);
			if (event.type === 'progress') {
				const now = Date.now();
				if (now - lastProgress < PROGRESS_INTERVAL_MS && event.fraction < 1) return;
				lastProgress = now;
				update(id, {progress: event});
			}
		};
		const confirm = (plan: Plan) =>
			new Promise<boolean>(resolve => {
				answers.current.set(id, resolve);
				update(id, {status: 'confirming'}, `asks: ${plan.summary}`);
				setConfirmation({jobId: id, plan});
			});
		task({signal: controller.signal, onEvent, confirm})
			.then(({outcome, message}) => ended(id, outcome === 'declined' ? {status: 'declined', message: 'nothing was changed'} : outcome === 'failed' ? {status: 'failed', message: message ?? null, progress: null} : {status: 'done', progress: null, message: message ?? null}))
			.catch((error: unknown) => {
				const hint = (error as {hint?: string}).hint;
				ended(id, {status: controller.signal.aborted ? 'cancelled' : 'failed', message: `${errorMessage(error)}${hint ? ` (${hint})` : ''}`});
			})
			.finally(() => {
				controllers.current.delete(id);
				onFinished();
			});
	}, [onFinished, ended, update]);

	/** A snapshot action (take, revert, merge): planned, confirmed, run. */
	const start = useCallback((action: Action, title: string) => {
		run(title, async ({signal, onEvent, confirm}) => {
			const {outcome} = await service.perform(action, {command: `snapdeck ui: ${title}`, confirm, signal, onEvent});
			return {outcome: outcome === 'declined' ? 'declined' : 'done'};
		}, action.vm);
	}, [service, run]);

	const answer = useCallback((yes: boolean) => {
		if (!confirmation) return;
		answers.current.get(confirmation.jobId)?.(yes);
		update(confirmation.jobId, {}, yes ? 'confirmed' : 'declined');
		answers.current.delete(confirmation.jobId);
		setConfirmation(null);
	}, [confirmation, update]);

	/** Cancels one job (it stops at its next safe point); false when it is no longer running. */
	const cancel = useCallback((id: number) => {
		const controller = controllers.current.get(id);
		if (!controller || controller.signal.aborted) return false;
		controller.abort();
		update(id, {cancelAsked: true}, 'cancel asked');
		return true;
	}, [update]);

	/** Cancels the newest job still running; false when none is. */
	const cancelLatest = useCallback(() => {
		const running = [...controllers.current.entries()].at(-1);
		if (running) cancel(running[0]);
		return running !== undefined;
	}, [cancel]);

	/** Cancels every job still running (each stops at its next safe point); how many there were. */
	const cancelAll = useCallback(() => {
		for (const id of controllers.current.keys()) cancel(id);
		return controllers.current.size;
	}, [cancel]);

	return {jobs, confirmation, start, run, answer, cancel, cancelLatest, cancelAll};
}

export type Jobs = ReturnType<typeof useJobs>;
