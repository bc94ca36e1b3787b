import type {Dispatch} from 'react';
import {errorMessage} from '../../core/errors.js';
import type {Jobs} from '../hooks/use-jobs.js';
import type {UiAction} from '../state.js';

/** What the actions of one role work with: the ports they use, the one job list, and the status line. */
export interface ActionContext<S> {
	readonly service: S;
	readonly jobs: Jobs;
	readonly dispatch: Dispatch<UiAction>;
	/** Says on the status line why nothing started: not a failed job. */
	readonly notice: (text: string) => void;
	/** A question asked before a job (its policy, its target) that failed, on the status line. */
	readonly failed: (error: unknown) => void;
}

export function actionContext<S>(service: S, jobs: Jobs, dispatch: Dispatch<UiAction>): ActionContext<S> {
	const notice = (text: string) => dispatch({type: 'notice', text});
	return {service, jobs, dispatch, notice, failed: error => notice(errorMessage(error))};
}

/** A job's message followed by the warnings it gave. */
export const withWarnings = (message: string, warnings: readonly string[]) =>
	[message, ...warnings.map(text => `warning: ${text}`)].join('; ');
