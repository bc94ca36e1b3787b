import {useCallback, useEffect, useRef, useState} from 'react';
import type {Restores} from '../../service/ports.js';
import {useLoader} from './use-inventory.js';

type Browser = Awaited<ReturnType<Restores['browseFiles']>>;

/**
 * How long a point stays open with no folder read: its appliance (a GiB of memory) stops and the
 * VM's backups are unlocked (a scheduled backup or prune of the VM waits on nothing longer).
 */
export const BROWSE_IDLE_MS = 120_000;

/**
 * The files screen's folder in a backup point and its listing; `where` is null for the point's
 * filesystems (one of them is entered at once when it is the only one). The point is opened once
 * (one boot of libguestfs's appliance) and every folder read through it, until the screen goes,
 * the point changes, it sits idle for BROWSE_IDLE_MS, or release() is called (before an
 * extraction, which locks the VM's backups itself).
 */
export function useFileListing(service: Restores, vm: string, point: string) {
	const [where, setWhere] = useState<string | null>('/');
	// Whether the point is open now (the next folder is a round trip, not a boot).
	const [warm, setWarm] = useState(false);
	const browser = useRef<Promise<Browser> | null>(null);
	// Aborts an opening still booting when the browser is released: its appliance is stopped, not waited for.
	const opening = useRef<AbortController | null>(null);
	const idle = useRef<ReturnType<typeof setTimeout> | undefined>(undefined);
	const release = useCallback(async () => {
		clearTimeout(idle.current);
		const open = browser.current;
		browser.current = null;
		opening.current?.abort();
		opening.current = null;
		setWarm(false);
		if (open)
			await open.then(
				opened => opened.close(),
				() => undefined,
			);
	}, []);
	const opened = useCallback(async (): Promise<Browser> => {
		const current = browser.current;
		const reused = current && (await current.catch(() => null));
		if (current && reused?.open && browser.current === current) return reused;
		const abort = new AbortController();
		opening.current = abort;
		const next = service.browseFiles(vm, {
			point,
			command: `snapdeck ui: files ${vm} --point ${point} (browsing)`,
			signal: abort.signal,
		});
		browser.current = next;
		next.catch(() => {
			if (browser.current === next) browser.current = null;
		});
		return next;
	}, [service, vm, point]);
	const load = useCallback(async () => {
		clearTimeout(idle.current);
		try {
			const found = await (await opened()).list(where ?? undefined);
			setWarm(true);
			return found;
		} finally {
			idle.current = setTimeout(() => void release(), BROWSE_IDLE_MS);
			idle.current.unref?.();
		}
	}, [opened, where, release]);
	const listing = useLoader(load);
	// The point changes, or the screen goes: its appliance stops and the lock is given back.
	useEffect(() => () => void release(), [vm, point, release]);
	// A point with several filesystems: '/' alone does not say which; show them to choose from.
	useEffect(() => {
		if (where === '/' && listing.error?.includes('filesystems: say which')) setWhere(null);
	}, [where, listing.error]);
	return {where, setWhere, listing, release, warm};
}
