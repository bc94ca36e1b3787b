import {useCallback, useEffect, useState} from 'react';
import {MESSAGE_TTL_MS, messageEntries, nextExpiry, type MessageTtl} from '../messages.js';
import type {Job} from './use-jobs.js';

/** The jobs' messages under the view: they go on their own after their time to live, or all at once with `clear`. */
export function useMessages(jobs: readonly Job[], ttl: MessageTtl = MESSAGE_TTL_MS) {
	const [clearedAt, setClearedAt] = useState(0);
	const [now, setNow] = useState(() => Date.now());
	const next = nextExpiry(jobs, now, clearedAt, ttl);
	// Drawn again when the next message expires: nothing polls.
	useEffect(() => {
		if (next === null) return;
		const timer = setTimeout(() => setNow(Date.now()), Math.max(0, next - Date.now()) + 10);
		return () => clearTimeout(timer);
	}, [next]);
	const clear = useCallback(() => {
		setClearedAt(Date.now());
		setNow(Date.now());
	}, []);
	return {entries: messageEntries(jobs, Math.max(now, 0), clearedAt, ttl), clear};
}
