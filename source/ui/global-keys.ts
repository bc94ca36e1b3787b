import type {Dispatch} from 'react';
import type {Jobs} from './hooks/use-jobs.js';
import {COMMANDS, displayKey, type Command, type Context, type Keymap} from './keymap.js';
import type {KeyAction} from './screens/screen.js';
import {SCREENS} from './screens/index.js';
import type {ScreenName, UiAction, UiState} from './state.js';

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
}

/** The commands every screen has (where the keymap gives them to it): going between screens, refresh, jobs, help, quit. */
export function globalCommands({dispatch, jobs, running, force, vm, connections, exit}: GlobalDeps): Partial<Record<Command, KeyAction>> {
	return {
		back: () => dispatch({type: 'go', screen: 'list', at: 'keep'}),
		health: () => dispatch({type: 'go', screen: 'health', vm: null}),
		log: () => dispatch({type: 'go', screen: 'log', vm: vm ?? null, at: 'last'}),
		jobs: () => dispatch({type: 'go', screen: 'jobs', at: 'last'}),
		refresh: force,
		cancelJob: () => (jobs.cancelLatest() ? undefined : 'no job is running'),
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
	const elsewhere = (Object.keys(COMMANDS) as Command[]).filter(command => keymap.keys[command].includes(spec))
		.map(command => ({command, where: names.filter(name => name !== screen && (COMMANDS[command].contexts as readonly Context[]).includes(name))}))
		.find(found => found.where.length > 0);
	if (!elsewhere) return `${displayKey(spec)}: no key here (${displayKey(keymap.keys.help[0] ?? '')} lists the keys of ${SCREENS[screen].label})`;
	return `${displayKey(spec)} (${COMMANDS[elsewhere.command].description}) works on ${elsewhere.where.map(name => SCREENS[name].label).join(', ')}, not on ${SCREENS[screen].label}`;
}
