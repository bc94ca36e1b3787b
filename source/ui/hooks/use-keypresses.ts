import {useStdin} from 'ink';
import {useEffect, useRef, useState} from 'react';
import {keySpecsOf} from '../keymap.js';

/**
 * Calls `handle` once per key, one key per render, so that a key typed right after another sees
 * the state the first one left. Reads the raw input through Ink's input emitter (what its own
 * useInput uses) because useInput hands a multi-key chunk over as one string.
 */
export function useKeypresses(handle: (spec: string) => void) {
	const {setRawMode, internal_eventEmitter: emitter} = useStdin();
	const queue = useRef<string[]>([]);
	// The newest handler (it closes over the newest state), called from the effect below.
	const handler = useRef(handle);
	handler.current = handle;
	const [tick, setTick] = useState(0);

	useEffect(() => {
		setRawMode(true);
		const onInput = (data: string | Buffer) => {
			queue.current.push(...keySpecsOf(data.toString()));
			setTick(value => value + 1);
		};
		emitter.on('input', onInput);
		return () => {
			emitter.removeListener('input', onInput);
			setRawMode(false);
		};
	}, [emitter, setRawMode]);

	useEffect(() => {
		const next = queue.current.shift();
		if (next === undefined) return;
		handler.current(next);
		if (queue.current.length > 0) setTick(value => value + 1);
	}, [tick]);
}
