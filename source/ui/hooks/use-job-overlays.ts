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
