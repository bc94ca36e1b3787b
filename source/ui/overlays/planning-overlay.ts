import {displayKey} from '../keymap.js';
import type {OverlayModule, OverlayOf} from './overlay.js';

/**
 * A change whose plan is being made (a revert, a merge, a prune: the plan is asked of the
 * hypervisor first, which can take seconds): until the plan is on screen no key reaches the
 * screen behind it, where a key typed ahead (the VM's name for the confirmation) would start
 * something else. Esc cancels the change; nothing else does anything.
 */
export const planningOverlay: OverlayModule<OverlayOf<'planning'>> = {
	context: () => 'planning',
	key(overlay, {command, jobs, close}) {
		if (command === 'dismiss') {
			jobs.cancel(overlay.jobId);
			close();
			return `cancelled: ${overlay.title}`;
		}
	},
	render: null,
	status(overlay, {keymap}) {
		return {
			text: `planning ${overlay.title}… keys wait; ${displayKey(keymap.keys.dismiss[0] ?? '')} cancels`,
			warn: false,
		};
	},
};
