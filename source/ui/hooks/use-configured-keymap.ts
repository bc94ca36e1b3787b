import {useEffect, useRef, useState} from 'react';
import {errorMessage} from '../../core/errors.js';
import type {Keymap} from '../keymap.js';
import type {UiAction} from '../state.js';

/**
 * The keymap: the table given, then the configuration's, read once the VM list has its first
 * answer (loading the configuration library before it held the list back, ~35 ms, --cpu-prof of
 * the start); a configuration that cannot be used is said, and the table given stays.
 */
export function useConfiguredKeymap(
	initial: Keymap,
	load: (() => Promise<Keymap>) | undefined,
	listed: boolean,
	dispatch: (action: UiAction) => void,
): Keymap {
	const [keymap, setKeymap] = useState(initial);
	const asked = useRef(false);
	useEffect(() => {
		if (!listed || asked.current) return;
		asked.current = true;
		load?.().then(setKeymap, (error: unknown) =>
			dispatch({type: 'notice', text: `configuration not used: ${errorMessage(error)}`}),
		);
	}, [listed, load, dispatch]);
	return keymap;
}
