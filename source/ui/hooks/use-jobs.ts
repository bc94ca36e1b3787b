import {useCallback, useEffect, useRef, useState} from 'react';
import type {ProgressEvent} from '../../core/describe.js';
import type {Plan, PlanEvent} from '../../core/plan.js';
import type {Action, Snapshots} from '../../service/ports.js';
import {errorMessage} from '../../core/errors.js';
import {useJobCancel} from './use-job-cancel.js';

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
	/** It shows a plan to confirm before it changes anything: keys wait while it is being made. */
	readonly planFirst: boolean;
}

/** A job still at work (cancel reaches it). */
export const isActive = (job: Job) =>
	job.status === 'planning' || job.status === 'confirming' || job.status === 'running';

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

export type Update = (id: number, patch: Partial<Job>, line?: string) => void;

/** The time of day of an ISO time, as a job's log shows it. */
const timeOf = (iso: string) => iso.slice(11, 19);

/** The jobs with `patch` applied to job `id`, and `line` added to its log if given. */
const patched = (all: Job[], id: number, patch: Partial<Job>, line?: string) =>
	all.map(job =>
		job.id === id
			? {
					...job,
					...patch,
					log: line === undefined ? job.log : [...job.log, `${timeOf(new Date().toISOString())} ${line}`],
				}
			: job,
	);

function newJob(id: number, title: string, vm: string | null, planFirst: boolean): Job {
	const startedAt = new Date().toISOString();
	return {
		id,
		planFirst,
		title,
		vm,
		status: 'planning',
		step: null,
		progress: null,
		message: null,
		startedAt,
		endedAt: null,
		cancelAsked: false,
		log: [`${timeOf(startedAt)} planning`],
	};
}

/** The job's step and progress events as updates of it: progress at most every PROGRESS_INTERVAL_MS, and its end always. */
function eventsOf(id: number, update: Update) {
	let lastProgress = 0;
	return (event: PlanEvent) => {
		if (event.type === 'step')
			update(
				id,
				{status: 'running', step: {index: event.index, total: event.total, summary: event.summary}, progress: null},
				`step ${event.index + 1}/${event.total}${event.resumed ? ' (resumed)' : ''}: ${event.summary}`,
			);
		if (event.type === 'progress') {
			const now = Date.now();
			if (now - lastProgress < PROGRESS_INTERVAL_MS && event.fraction < 1) return;
			lastProgress = now;
			update(id, {progress: event});
		}
	};
}

/** How a job ended, from what its task returned. */
const endOf = ({outcome, message}: JobOutcome): Partial<Job> =>
	outcome === 'declined'
		? {status: 'declined', message: 'nothing was changed'}
		: outcome === 'failed'
			? {status: 'failed', message: message ?? null, progress: null}
			: {status: 'done', progress: null, message: message ?? null};

/** How a job ended that threw: cancelled where it was asked to stop, else failed, with the error's hint. */
function failureOf(error: unknown, aborted: boolean): Partial<Job> {
	const hint = (error as {hint?: string}).hint;
	return {status: aborted ? 'cancelled' : 'failed', message: `${errorMessage(error)}${hint ? ` (${hint})` : ''}`};
}

/** How a job asks for its plan to be confirmed: the dialog shows the plan, and the answer settles the ask. */
function asker(
	id: number,
	signal: AbortSignal,
	answers: Map<number, (yes: boolean) => void>,
	update: Update,
	setConfirmation: (confirmation: PendingConfirmation) => void,
) {
	return (plan: Plan) =>
		new Promise<boolean>(resolve => {
			// Cancelled while its plan was being made: the plan is not shown, the change not made.
			if (signal.aborted) return resolve(false);
			answers.set(id, resolve);
			update(id, {status: 'confirming'}, `asks: ${plan.summary}`);
			setConfirmation({jobId: id, plan});
		});
}

/** Runs actions as jobs: plan, confirmation, progress (throttled), cancel, outcome. */
export function useJobs(service: Snapshots, onFinished: () => void) {
	const [jobs, setJobs] = useState<Job[]>([]);
	const [confirmation, setConfirmation] = useState<PendingConfirmation | null>(null);
	const answers = useRef(new Map<number, (yes: boolean) => void>());
	const controllers = useRef(new Map<number, AbortController>());
	const nextId = useRef(1);

	// Leaving the UI cancels what still runs; each job stops at a safe point and can be recovered.
	useEffect(() => () => controllers.current.forEach(controller => controller.abort()), []);

	const update = useCallback<Update>((id, patch, line) => setJobs(all => patched(all, id, patch, line)), []);
	const ended = useCallback(
		(id: number, patch: Partial<Job>) =>
			update(
				id,
				{...patch, endedAt: new Date().toISOString()},
				`${patch.status}${patch.message ? `: ${patch.message}` : ''}`,
			),
		[update],
	);

	/**
	 * Runs `task` as a job: its step and progress events update the job (progress at most every
	 * PROGRESS_INTERVAL_MS), its confirmation shows in the dialog, cancel aborts its signal.
	 */
	const run = useCallback(
		(
			title: string,
			task: (context: JobContext) => Promise<JobOutcome>,
			vm: string | null = null,
			options: {readonly planFirst?: boolean} = {},
		) => {
			const id = nextId.current++;
			const controller = new AbortController();
			controllers.current.set(id, controller);
			setJobs(all => [...all, newJob(id, title, vm, options.planFirst ?? false)]);
			const confirm = asker(id, controller.signal, answers.current, update, setConfirmation);
			task({signal: controller.signal, onEvent: eventsOf(id, update), confirm})
				.then(outcome => ended(id, endOf(outcome)))
				.catch((error: unknown) => ended(id, failureOf(error, controller.signal.aborted)))
				.finally(() => {
					controllers.current.delete(id);
					onFinished();
				});
		},
		[onFinished, ended, update],
	);

	/** A snapshot action (take, revert, merge): planned, confirmed, run. */
	const start = useCallback(
		(action: Action, title: string) => {
			run(
				title,
				async ({signal, onEvent, confirm}) => {
					const {outcome} = await service.perform(action, {command: `snapdeck ui: ${title}`, confirm, signal, onEvent});
					return {outcome: outcome === 'declined' ? 'declined' : 'done'};
				},
				action.vm,
				{planFirst: true},
			);
		},
		[service, run],
	);

	const answer = useCallback(
		(yes: boolean) => {
			if (!confirmation) return;
			answers.current.get(confirmation.jobId)?.(yes);
			update(confirmation.jobId, {}, yes ? 'confirmed' : 'declined');
			answers.current.delete(confirmation.jobId);
			setConfirmation(null);
		},
		[confirmation, update],
	);

	const {cancel, cancelLatest, cancelAll} = useJobCancel(controllers, update);

	return {jobs, confirmation, start, run, answer, cancel, cancelLatest, cancelAll};
}

export type Jobs = ReturnType<typeof useJobs>;
