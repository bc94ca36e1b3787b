import {useCallback, useEffect, useRef, useState, type RefObject} from 'react';
import type {Restores} from '../../service/ports.js';
import {useLoader, type Loaded} from './use-inventory.js';

type Browser = Awaited<ReturnType<Restores['browseFiles']>>;
type Listing = Awaited<ReturnType<Browser['list']>>;

/**
 * How long a point stays open with no folder read: its appliance (a GiB of memory) stops and the
 * VM's backups are unlocked (a scheduled backup or prune of the VM waits on nothing longer).
 */
export const BROWSE_IDLE_MS = 120_000;

/** The screen has gone (or moved to another point) while a folder was asked for: nothing is opened for it. */
const GONE = 'the files screen has closed';

/**
 * The files screen's folder in a backup point and its listing; `where` is null for the point's
 * filesystems (one of them is entered at once when it is the only one). The point is opened once
 * (one boot of libguestfs's appliance) and every folder read through it, until the screen goes,
 * the point changes, it sits idle for BROWSE_IDLE_MS, or lend() hands the point to an
 * extraction (which locks the VM's backups itself): a folder asked for meanwhile is read once the
 * extraction is done. `current`: the listing shown is the folder's `where` (not still the one
 * before, being replaced): only then may a key act on its rows.
 */
export function useFileListing(service: Restores, vm: string, point: string) {
	const [where, setWhere] = useState<string | null>('/');
	// Whether the point is open now (the next folder is a round trip, not a boot).
	const [warm, setWarm] = useState(false);
	const browser = useRef<Promise<Browser> | null>(null);
	// Aborts an opening still booting when the browser is released: its appliance is stopped, not waited for.
	const opening = useRef<AbortController | null>(null);
	const idle = useRef<ReturnType<typeof setTimeout> | undefined>(undefined);
	// Counts the screens (and points) gone: a folder asked for before opens nothing after.
	const epoch = useRef(0);
	// An extraction's run, while it has the point.
	const lent = useRef<Promise<unknown> | null>(null);
	const release = useCallback(async () => {
		clearTimeout(idle.current);
		idle.current = undefined;
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
		const mine = epoch.current;
		try {
			// An extraction has the point (and the lock of the VM's backups): its end is waited for.
			while (lent.current) await lent.current;
			if (epoch.current !== mine) throw new Error(GONE);
			const found = await (await opened()).list(where ?? undefined);
			setWarm(true);
			return {where, found};
		} finally {
			// Idle from now: only where a browser is open, and the screen still there.
			if (epoch.current === mine && browser.current !== null) {
				clearTimeout(idle.current);
				idle.current = setTimeout(() => void release(), BROWSE_IDLE_MS);
				idle.current.unref?.();
			}
		}
	}, [opened, where, release]);
	const loaded = useLoader(load);
	const {lend, lentTo} = useLend(release, lent);
	// The point changes, or the screen goes: its appliance stops and the lock is given back.
	useEffect(
		() => () => {
			epoch.current++;
			void release();
		},
		[vm, point, release],
	);
	const current = loaded.data !== null && loaded.data.where === where && !loaded.loading;
	const listing: Loaded<Listing> = {...loaded, data: loaded.data?.found ?? null};
	// A point with several filesystems: '/' alone does not say which; show them to choose from.
	useEffect(() => {
		if (where === '/' && loaded.error?.includes('filesystems: say which')) setWhere(null);
	}, [where, loaded.error]);
	return {where, setWhere, listing, current, lend, lentTo, warm};
}

/**
 * Runs `task` (an extraction, which locks the VM's backups itself) with the point closed for
 * browsing (`release`): a folder asked for meanwhile waits for `lent`. Called as the task starts,
 * so that a key right after it already waits. `lentTo`: what it copies, while it runs.
 */
function useLend(release: () => Promise<void>, lent: RefObject<Promise<unknown> | null>) {
	const [lentTo, setLentTo] = useState<string | null>(null);
	const lend = useCallback(
		<T>(what: string, task: () => Promise<T>): Promise<T> => {
			setLentTo(what);
			const done = release().then(task);
			const settled: Promise<unknown> = done.then(
				() => undefined,
				() => undefined,
			);
			lent.current = settled;
			void settled.then(() => {
				if (lent.current !== settled) return;
				lent.current = null;
				setLentTo(null);
			});
			return done;
		},
		[release, lent],
	);
	return {lend, lentTo};
}
