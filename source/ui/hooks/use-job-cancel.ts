import {useCallback, type RefObject} from 'react';
import type {Update} from './use-jobs.js';

/** Cancel for the jobs of useJobs: through the abort controller of each job still running. */
export function useJobCancel(controllers: RefObject<Map<number, AbortController>>, update: Update) {
	/** Cancels one job (it stops at its next safe point); false when it is no longer running. */
	const cancel = useCallback(
		(id: number) => {
			const controller = controllers.current.get(id);
			if (!controller || controller.signal.aborted) return false;
			controller.abort();
			update(id, {cancelAsked: true}, 'cancel asked');
			return true;
		},
		[controllers, update],
	);

	/** Cancels the newest job still running; false when none is. */
	const cancelLatest = useCallback(() => {
		const running = [...controllers.current.entries()].at(-1);
		if (running) cancel(running[0]);
		return running !== undefined;
	}, [controllers, cancel]);

	/** Cancels every job still running (each stops at its next safe point); how many there were. */
	const cancelAll = useCallback(() => {
		for (const id of controllers.current.keys()) cancel(id);
		return controllers.current.size;
	}, [controllers, cancel]);

	return {cancel, cancelLatest, cancelAll};
}
