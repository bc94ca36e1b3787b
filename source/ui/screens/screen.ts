import {useEffect, useLayoutEffect, type Dispatch, type FunctionComponent} from 'react';
import type {Severity} from '../../core/health.js';
import type {VmSummary} from '../../core/model.js';
import type {Backups, Inventory, Jobs as JobsPort, Restores, VmHealth} from '../../service/ports.js';
import type {Actions} from '../actions.js';
import type {Jobs} from '../hooks/use-jobs.js';
import type {Loaded} from '../hooks/use-inventory.js';
import type {Command, Keymap} from '../keymap.js';
import {cursorRow, type ScreenName, type UiAction, type UiState} from '../state.js';

/** What a key does on a screen: nothing returned when it acted, else why it cannot (shown on the status line). */
export type KeyAction = () => string | void;

/** What a screen tells the app: the keys of its rows (for the movement keys) and what its commands do. */
export interface ScreenBinding {
	readonly rows: readonly string[];
	/** The VM the screen's commands act on (the selected one, the one shown), for the keys every screen has (the journal). */
	readonly vm: string | undefined;
	readonly commands: Partial<Record<Command, KeyAction>>;
}

/** Everything a screen reads from the app: the ports its data hooks read, the shared data, the size of its body, the state and its dispatch. */
export interface ScreenContext {
	readonly service: Inventory & Backups & Restores & JobsPort;
	readonly keymap: Keymap;
	readonly now: () => Date;
	readonly width: number;
	readonly height: number;
	readonly state: UiState;
	readonly dispatch: Dispatch<UiAction>;
	readonly inventory: Loaded<VmSummary[]>;
	/** The VMs shown on the list: sorted, filtered. */
	readonly vms: readonly VmSummary[];
	readonly health: Loaded<VmHealth[]>;
	readonly badges: ReadonlyMap<string, Severity>;
	readonly jobs: Jobs;
	readonly actions: Actions;
	/** Changes when what is on screen should be read again: `tick` on its own (skipped while a load runs), `forced` by R or a finished job. */
	readonly refresh: {readonly tick: number; readonly forced: number};
	/** The screen's binding; the app routes keys through the newest one. */
	readonly bind: (binding: ScreenBinding) => void;
}

export interface ScreenProps {
	readonly context: ScreenContext;
	/** False while an overlay covers the screen: it stays mounted (its data and cursor kept) but is not drawn. */
	readonly visible: boolean;
}

/** A screen: its name (the keymap context), how the header names where the operator is, and its component. */
export interface Screen {
	readonly name: ScreenName;
	/** Where the operator is, for the header, and what the status line calls this screen. */
	readonly title: (state: UiState, vms: number) => string;
	readonly label: string;
	/** Where the command that opens it (the keymap's `opens`) puts the cursor, and whether it is of the VM in view. */
	readonly opensAt?: 'first' | 'last';
	readonly ofVm?: boolean;
	/** Drawn in the body; owns its data hook, its rows, its keys (from the keymap's context of its name). */
	readonly Component: FunctionComponent<ScreenProps>;
}

/**
 * Hands the screen's binding to the app at each commit, before the frame it belongs to can be
 * seen (a layout effect: a passive one runs a moment after the frame is drawn, and a key typed
 * in that moment, as one typed ahead, acted on the rows of the frame before).
 */
export function useBinding(context: ScreenContext, binding: ScreenBinding) {
	useLayoutEffect(() => {
		context.bind(binding);
	});
}

/**
 * The cursor of a screen over its rows, by identity: on the same item across refreshes, filters and
 * resizes; placed by row when its item is gone.
 */
export function useCursor<T>(
	context: ScreenContext,
	screen: ScreenName,
	items: readonly T[],
	keyOf: (item: T) => string,
) {
	const keys = items.map(keyOf);
	const cursor = context.state.cursors[screen];
	const index = cursorRow(cursor, keys);
	const current = items[index];
	const held = cursor?.key ?? null;
	const key = keys[index];
	const {dispatch} = context;
	// The item shown under the cursor becomes the one it holds: the next key acts on what is seen.
	useEffect(() => {
		if (key !== undefined && key !== held) dispatch({type: 'hold', screen, key, index, replacing: held});
	}, [held, key, index, dispatch, screen]);
	return {index, current, keys};
}
