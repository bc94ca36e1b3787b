import {constants} from 'node:os';

/**
 * conf writes through `atomically`, whose `when-exit` listens to every signal with `process.once`
 * and, after its own clean-up, sends the signal to the process again. Once the config was read, a
 * Ctrl-C then arrived twice: a job was stopped at once instead of at its next safe point (found
 * when `snapdeck copy`, which reads the config, was interrupted). snapdeck only reads the config,
 * so those exit hooks have nothing to clean up: the signal listeners conf's modules add are removed.
 *
 * This module is imported before conf, so that what it records is what was there before.
 */
const SIGNALS = Object.keys(constants.signals) as NodeJS.Signals[];
const before = new Map(SIGNALS.map(signal => [signal, new Set(process.listeners(signal))]));

/** Removes the signal listeners added since this module was loaded (by conf's dependencies). */
export function dropExitHooks(): void {
	for (const signal of SIGNALS) {
		for (const listener of process.listeners(signal)) {
			if (!before.get(signal)!.has(listener)) process.removeListener(signal, listener as (...args: unknown[]) => void);
		}
	}
}
