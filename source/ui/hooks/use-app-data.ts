import {useMemo} from 'react';
import {worstOf, type Severity} from '../../core/health.js';
import type {Ports} from '../../service/ports.js';
import {makeActions} from '../actions.js';
import type {Keymap} from '../keymap.js';
import type {UiAction} from '../state.js';
import {useConfiguredKeymap} from './use-configured-keymap.js';
import {useFollow, useHealth, useInventory, useShownVms} from './use-inventory.js';
import {useJobs} from './use-jobs.js';
import {useRefresh} from './use-refresh.js';

export interface AppDataOptions {
	readonly service: Ports;
	readonly keymap: Keymap;
	readonly loadKeymap?: () => Promise<Keymap>;
	readonly refreshMs: number;
	readonly now: () => Date;
}

/**
 * What the app's screens share: the inventory and the health (read again on their own, and after a
 * job), the keymap, the jobs and the actions that start them, the VMs the filter shows and their
 * health badges; `force` reads them again now.
 */
export function useAppData(
	{service, keymap: initialKeymap, loadKeymap, refreshMs, now}: AppDataOptions,
	filter: string,
	dispatch: (action: UiAction) => void,
) {
	const {refresh, force} = useRefresh(service, refreshMs);
	const inventory = useInventory(service);
	const keymap = useConfiguredKeymap(
		initialKeymap,
		loadKeymap,
		inventory.data !== null || inventory.error !== null,
		dispatch,
	);
	const health = useHealth(service, inventory.data !== null, now);
	useFollow(inventory, refresh);
	useFollow(health, refresh, 6);
	const jobs = useJobs(service, force);
	const actions = makeActions(service, jobs, dispatch, now, inventory.data);

	const vms = useShownVms(inventory.data, filter, jobs.jobs);
	const badges = useMemo(
		() => new Map<string, Severity>((health.data ?? []).map(vm => [vm.vm, worstOf(vm.findings)])),
		[health.data],
	);
	return {force, shared: {refresh, inventory, keymap, health, jobs, actions, vms, badges}};
}
