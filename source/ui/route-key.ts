import type {Dispatch} from 'react';
import type {Actions} from './actions.js';
import {overlayKey} from './overlays/overlay-registry.js';
import type {Jobs} from './hooks/use-jobs.js';
import {COMMANDS, displayKey, type Command, type Context, type Keymap} from './keymap.js';
import type {KeyAction, ScreenBinding} from './screens/screen.js';
import {SCREENS} from './screens/screen-registry.js';
import {cursorRow, type ScreenName, type UiAction, type UiState} from './state.js';
import type {RoleName} from '../service/ports.js';
import type {PagerGeometry} from './pager.js';

export interface GlobalDeps {
	readonly state: UiState;
	readonly dispatch: Dispatch<UiAction>;
	readonly jobs: Jobs;
	readonly running: number;
	readonly force: () => void;
	/** The VM the current screen is on, for the journal. */
	readonly vm: string | undefined;
	readonly connections: {readonly count: number; readonly next: () => void} | undefined;
	readonly exit: () => void;
	/** Clears the ended jobs' messages under the view (the jobs screen keeps them). */
	readonly clearMessages: () => void;
}

/** The commands every screen has (where the keymap gives them to it): going between screens, refresh, jobs, help, quit. */
export function globalCommands({
	dispatch,
	jobs,
	running,
	force,
	vm,
	connections,
	exit,
	clearMessages,
}: GlobalDeps): Partial<Record<Command, KeyAction>> {
	// The commands that open a screen (the keymap's `opens`), as that screen asks to be opened.
	const opening = (Object.keys(COMMANDS) as Command[]).flatMap(command => {
		const screen = (COMMANDS[command] as {opens?: ScreenName}).opens;
		if (!screen) return [];
		const {opensAt = 'first', ofVm = false} = SCREENS[screen];
		return [[command, () => dispatch({type: 'go', screen, vm: ofVm ? (vm ?? null) : null, at: opensAt})] as const];
	});
	return {
		...Object.fromEntries(opening),
		back: () => dispatch({type: 'go', screen: 'list', at: 'keep'}),
		refresh: force,
		cancelJob: () => (jobs.cancelLatest() ? undefined : 'no job is running'),
		clearMessages,
		help: () => dispatch({type: 'open', overlay: {kind: 'help', scroll: 0}}),
		quit: () => (running > 0 ? dispatch({type: 'open', overlay: {kind: 'quitting', phase: 'asked'}}) : exit()),
		connection: () => {
			if (!connections) return 'only one connection is open (give --connect more than once)';
			if (running > 0) return 'a job is still running: cancel it first, or wait';
			connections.next();
		},
	};
}

/** What the status line says of a key that does nothing on this screen: where it does act, if anywhere. */
export function unavailableHere(spec: string, keymap: Keymap, screen: ScreenName): string {
	const names = Object.keys(SCREENS) as ScreenName[];
	const elsewhere = (Object.keys(COMMANDS) as Command[])
		.filter(command => keymap.keys[command].includes(spec))
		.map(command => ({
			command,
			where: names.filter(name => name !== screen && (COMMANDS[command].contexts as readonly Context[]).includes(name)),
		}))
		.find(found => found.where.length > 0);
	if (!elsewhere)
		return `${displayKey(spec)}: no key here (${displayKey(keymap.keys.help[0] ?? '')} lists the keys of ${SCREENS[screen].label})`;
	return `${displayKey(spec)} (${COMMANDS[elsewhere.command].description}) works on ${elsewhere.where.map(name => SCREENS[name].label).join(', ')}, not on ${SCREENS[screen].label}`;
}

export interface Route extends Omit<GlobalDeps, 'vm'> {
	readonly context: Context;
	readonly keymap: Keymap;
	readonly actions: Actions;
	readonly binding: ScreenBinding;
	readonly height: number;
	readonly width: number;
	/** Where a pager (a plan, a detail view, the help) is drawn. */
	readonly geometry: PagerGeometry;
	readonly forceQuit: () => void;
	/** Why the connection cannot do what a role covers (service.roleProblem), or null. */
	readonly roleProblem: (role: RoleName, doing: string) => string | null;
}

/**
 * A key: to the open overlay if there is one, else the movement keys to the screen's cursor, else
 * the screen's command, else the command every screen has; what cannot act says why on the status line.
 */
export function routeKey(spec: string, route: Route) {
	const {context, state, dispatch, keymap, binding, height} = route;
	const command = keymap.commandFor(context, spec);
	const say = (text: string | void) => dispatch({type: 'notice', text: text || null});
	say();
	if (state.overlay)
		return say(
			overlayKey({
				...route,
				overlay: state.overlay,
				command,
				spec,
				filter: state.filter,
				notice: state.notice,
				quit: {force: route.forceQuit},
				screen: state.screen,
				screenLabel: SCREENS[state.screen].label,
			}),
		);
	if (command === undefined) return say(unavailableHere(spec, keymap, state.screen));
	const row = cursorRow(state.cursors[state.screen], binding.rows);
	const page = Math.max(1, height - 2);
	const moves: Partial<Record<Command, number>> = {
		up: row - 1,
		down: row + 1,
		pageUp: row - page,
		pageDown: row + page,
		top: 0,
		bottom: binding.rows.length - 1,
	};
	const to = moves[command];
	if (to !== undefined) return dispatch({type: 'select', screen: state.screen, keys: binding.rows, row: to});
	const role: RoleName | undefined = (COMMANDS[command] as {role?: RoleName}).role;
	const missing = role ? route.roleProblem(role, COMMANDS[command].description) : null;
	if (missing) return say(missing);
	const act = binding.commands[command] ?? globalCommands({...route, vm: binding.vm})[command];
	return say(act ? act() : `${displayKey(spec)}: not available on ${SCREENS[state.screen].label}`);
}
