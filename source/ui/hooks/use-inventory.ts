import {useCallback, useEffect, useMemo, useRef, useState} from 'react';
import {isActive, type Job} from './use-jobs.js';
import type {BackupPoint} from '../../core/backup-manifest.js';
import type {VmSummary} from '../../core/model.js';
import type {JournalRecord} from '../../core/plan.js';
import type {Backups, Health, Inventory, Jobs, ScheduledTask, TreeView, VmHealth} from '../../service/ports.js';
import {errorMessage} from '../../core/errors.js';

export interface Loaded<T> {
	readonly data: T | null;
	readonly loading: boolean;
	readonly error: string | null;
	readonly refresh: () => void;
}

/**
 * Loads something from the service without blocking the first frame; `refresh` loads it again.
 * A loader may show part of its answer early (`early`), which is drawn only while there is nothing
 * else to show: a reload keeps what is on screen until its whole answer comes.
 */
export function useLoader<T>(load: ((early: (data: T) => void) => Promise<T>) | null): Loaded<T> {
	const [state, setState] = useState<Omit<Loaded<T>, 'refresh'>>({data: null, loading: load !== null, error: null});
	const [generation, setGeneration] = useState(0);
	useEffect(() => {
		if (!load) return;
		let current = true;
		setState(previous => ({...previous, loading: true}));
		const early = (data: T) =>
			current && setState(previous => (previous.data === null ? {...previous, data} : previous));
		load(early).then(
			data => current && setState({data, loading: false, error: null}),
			(error: unknown) => current && setState(previous => ({...previous, loading: false, error: errorMessage(error)})),
		);
		return () => {
			current = false;
		};
	}, [load, generation]);
	const refresh = useCallback(() => setGeneration(value => value + 1), []);
	return {...state, refresh};
}

/** The VM list, drawn as soon as the hypervisor answers; the backup ages fill in after. */
export function useInventory(service: Inventory) {
	const load = useCallback((early: (vms: VmSummary[]) => void) => service.list({onRows: early}), [service]);
	return useLoader<VmSummary[]>(load);
}

export function useTree(service: Inventory, vm: string | null) {
	const load = useCallback(() => service.tree(vm!), [service, vm]);
	return useLoader<TreeView>(vm === null ? null : load);
}

export function useBackups(service: Backups, vm: string | null) {
	const load = useCallback(() => service.backups(vm!), [service, vm]);
	return useLoader<BackupPoint[]>(vm === null ? null : load);
}

/**
 * Health of every VM, loaded once the inventory is on screen. Without `qemu-img check` of every
 * image (that is `snapdeck health`'s job): on a big host it would keep both cores busy for many
 * seconds, and keystrokes would wait for them.
 */
export function useHealth(service: Health, enabled: boolean, now: () => Date) {
	// Two VMs at a time: on a big host the badges fill in over a few seconds, and keys stay quick meanwhile.
	// The clock through a ref: a caller's `now` may be a new function each render.
	const clock = useRef(now);
	clock.current = now;
	const load = useCallback(() => service.health({now: clock.current(), checkImages: false, concurrency: 2}), [service]);
	return useLoader<VmHealth[]>(enabled ? load : null);
}

export function useJournal(service: Jobs, vm: string | null, enabled: boolean) {
	const load = useCallback(() => service.journal(vm), [service, vm]);
	return useLoader<JournalRecord[]>(enabled ? load : null);
}

/** A VM's scheduled tasks (last and next run), for the tree view. */
export function useSchedules(service: Jobs, vm: string | null, now: () => Date) {
	const clock = useRef(now);
	clock.current = now;
	const load = useCallback(() => service.schedules(vm!, clock.current()), [service, vm]);
	return useLoader<ScheduledTask[]>(vm === null ? null : load);
}

/**
 * Reads `loader` again when `refresh` says so: on `forced` (R, a finished job) at once, on `tick`
 * (the screen following changes made elsewhere) only when no load of it is running, so a slow host
 * is not asked twice at once. Not on mount: the loader has just loaded.
 */
export function useFollow(
	loader: Loaded<unknown>,
	refresh: {readonly tick: number; readonly forced: number},
	every = 1,
) {
	const mounted = useRef(refresh);
	// A tick that came while a load ran is not lost: the load that ends reads again once.
	const missed = useRef(false);
	const {refresh: reload, loading} = loader;
	// Whether a load runs, read when a tick comes (not a reason to run the tick's effect again).
	const running = useRef(loading);
	running.current = loading;
	useEffect(() => {
		if (refresh.forced !== mounted.current.forced) reload();
	}, [refresh.forced, reload]);
	useEffect(() => {
		if (refresh.tick === mounted.current.tick || refresh.tick % every !== 0) return;
		if (running.current) missed.current = true;
		else reload();
	}, [refresh.tick, every, reload]);
	useEffect(() => {
		if (loading || !missed.current) return;
		missed.current = false;
		reload();
	}, [loading, reload]);
}

/**
 * The VMs the list shows: sorted by name, filtered, and a VM a job of this window is at work on
 * marked busy too, as one another snapdeck's job holds.
 */
export function useShownVms(inventory: readonly VmSummary[] | null, filter: string, jobs: readonly Job[]) {
	const working = jobs
		.filter(job => isActive(job) && job.vm !== null)
		.map(job => `${job.vm}\n${job.id}`)
		.join('\t');
	return useMemo(() => {
		const here = new Map(working ? working.split('\t').map(entry => entry.split('\n') as [string, string]) : []);
		const all = [...(inventory ?? [])]
			.sort((a, b) => a.name.localeCompare(b.name))
			.map(vm => (here.has(vm.name) && !vm.busy ? {...vm, busy: `job ${here.get(vm.name)} here`} : vm));
		const needle = filter.toLowerCase();
		return needle ? all.filter(vm => vm.name.toLowerCase().includes(needle)) : all;
	}, [inventory, filter, working]);
}
