import {useCallback, useEffect, useState} from 'react';
import type {Inventory} from '../../service/ports.js';

/** How long the adapter's change reports settle before the screen is read again. */
const CHANGE_SETTLE_MS = 150;

/**
 * When what is on screen is read again: `tick` every `refreshMs` and soon after the adapter reports
 * a change (a local lab's folders; a burst of reports as one), `forced` by `force` (R, a job ended).
 */
export function useRefresh(service: Inventory, refreshMs: number) {
	const [refresh, setRefresh] = useState({tick: 0, forced: 0});
	const force = useCallback(() => setRefresh(current => ({...current, forced: current.forced + 1})), []);
	useEffect(() => {
		const tick = () => setRefresh(current => ({...current, tick: current.tick + 1}));
		const timer = setInterval(tick, refreshMs);
		let soon: NodeJS.Timeout | undefined;
		const stop = service.watch(() => {
			clearTimeout(soon);
			soon = setTimeout(tick, CHANGE_SETTLE_MS);
		});
		return () => {
			clearInterval(timer);
			clearTimeout(soon);
			stop();
		};
	}, [refreshMs, service]);
	return {refresh, force};
}
