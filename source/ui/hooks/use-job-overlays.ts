import {useEffect, useRef} from 'react';
import {displayKey, type Keymap} from '../keymap.js';
import type {Overlay, UiAction} from '../state.js';
import type {Jobs} from './use-jobs.js';

/**
 * A plan waiting for an answer comes over whatever is open; while quitting, it is declined. Only
 * a new plan does this: the overlay is read through a ref, so opening another does not repeat it.
 */
export function usePlansOnTop(overlay: string | undefined, jobs: Jobs, dispatch: (action: UiAction) => void): void {
	const overlayKind = useRef(overlay);
	overlayKind.current = overlay;
	const {confirmation, answer} = jobs;
	useEffect(() => {
		if (!confirmation) return;
		if (overlayKind.current === 'quitting') answer(false);
		else dispatch({type: 'confirm', jobId: confirmation.jobId});
	}, [confirmation, answer, dispatch]);
}

/**
 * The job whose plan the keys wait for: a change still planning, of which no cancel was asked (Esc
 * lets go of the keys even when the change is slow to stop).
 */
export function planningJob(jobs: Jobs): {readonly id: number; readonly title: string} | null {
	const waiting = jobs.jobs.find(job => job.planFirst && job.status === 'planning' && !job.cancelAsked);
	return waiting ? {id: waiting.id, title: waiting.title} : null;
}

/**
 * The overlay keys go to: the open one; else, while a change's plan is being made, the planning
 * hold, from the very render in which the change appears. The effect below opens it one render
 * later, and a key that came in the same read as the one that started the change is handled
 * in between.
 */
export function keysOverlay(overlay: Overlay | null, jobs: Jobs): Overlay | null {
	if (overlay !== null) return overlay;
	const waiting = planningJob(jobs);
	return waiting ? {kind: 'planning', jobId: waiting.id, title: waiting.title} : null;
}

/**
 * While a change's plan is being made (a job that confirms a plan first), the keys wait for it:
 * the planning overlay holds them, so none typed ahead acts on the screen behind. It opens where
 * nothing else is open (a dialog or the help keeps its keys), and goes when the plan is shown
 * (the plan replaces it), the job ends without one, or its cancel is asked.
 */
export function usePlanningHold(overlay: Overlay | null, jobs: Jobs, dispatch: (action: UiAction) => void): void {
	const waiting = planningJob(jobs);
	const [id, title] = waiting ? [waiting.id, waiting.title] : [null, ''];
	const held = overlay?.kind === 'planning' ? overlay.jobId : null;
	const free = overlay === null;
	useEffect(() => {
		if (id !== null && id !== held && (free || held !== null))
			dispatch({type: 'open', overlay: {kind: 'planning', jobId: id, title}});
		if (id === null && held !== null) dispatch({type: 'planned', jobId: held});
	}, [id, title, held, free, dispatch]);
}

/**
 * Once every cancelled job has stopped at its safe point, the quit goes through; a question
 * about jobs that have all ended meanwhile is moot: it goes, and says so.
 */
export function useQuitWhenStopped(
	overlay: Overlay | null,
	running: number,
	exit: () => void,
	keymap: Keymap,
	dispatch: (action: UiAction) => void,
): void {
	const quitting = overlay?.kind === 'quitting' ? overlay.phase : null;
	useEffect(() => {
		if (quitting === 'cancelling' && running === 0) exit();
		if (quitting === 'asked' && running === 0) {
			dispatch({type: 'close'});
			dispatch({type: 'notice', text: `no job runs any more: ${displayKey(keymap.keys.quit[0] ?? '')} quits`});
		}
	}, [quitting, running, exit, keymap, dispatch]);
}
