import type {RefObject} from 'react';
import type {Frame} from '../frame-layout.js';
import {displayKey, type Context} from '../keymap.js';
import {routeKey, type Route} from '../route-key.js';
import type {ScreenBinding, ScreenContext} from '../screens/screen.js';
import {useKeypresses} from './use-keypresses.js';

/** What the keys need beyond what the screens see. */
export interface KeyDeps extends Pick<
	Route,
	'running' | 'force' | 'clearMessages' | 'connections' | 'exit' | 'forceQuit'
> {
	/** The keymap context now: the open overlay's, else the screen's. */
	readonly context: Context;
	readonly frame: Frame;
	/** The binding the screen gave last (it hands it over after each render). */
	readonly binding: RefObject<ScreenBinding>;
}

/** The app's keys: each to the open overlay or else the current screen (route-key.ts). */
export function useAppKeys(
	{state, dispatch, keymap, jobs, actions, service}: ScreenContext,
	{context, frame, binding, running, exit, ...rest}: KeyDeps,
) {
	useKeypresses(spec => {
		// Nothing is acted on blind: in a terminal too small to show it, only quit works (and only with no job to ask about).
		if (frame.tooSmall) {
			if (keymap.keys.quit.includes(spec) && running === 0) return exit();
			return dispatch({
				type: 'notice',
				text: `${displayKey(spec)} was not acted on: the terminal was too small to show it`,
			});
		}
		routeKey(spec, {
			...rest,
			context,
			state,
			dispatch,
			keymap,
			jobs,
			actions,
			running,
			exit,
			binding: binding.current,
			height: frame.bodyHeight,
			width: frame.columns,
			geometry: frame.geometry,
			roleProblem: (role, doing) => service.roleProblem(role, doing),
		});
	});
}
