import {displayKey} from '../keymap.js';
import type {OverlayModule, OverlayOf} from './overlay.js';

/** Quitting with jobs running: asked on the status line first, then their cancelling waited for (quit again: now). */
export const quittingOverlay: OverlayModule<OverlayOf<'quitting'>> = {
	context: () => 'quitting',
	key(overlay, {command, jobs, quit, update, close}) {
		if (overlay.phase === 'asked' && (command === 'confirm' || command === 'quit')) {
			if (jobs.confirmation) jobs.answer(false);
			jobs.cancelAll();
			return update({kind: 'quitting', phase: 'cancelling'});
		}
		if (overlay.phase === 'asked' && command === 'deny') return close();
		if (overlay.phase === 'cancelling' && command === 'quit') return quit.force();
	},
	render: null,
	// The question on the status line, short enough for 40 columns.
	status(overlay, {running, keymap}) {
		const keyOf = (command: 'confirm' | 'deny' | 'quit') => displayKey(keymap.keys[command][0] ?? '');
		const jobs = `${running} job${running === 1 ? '' : 's'}`;
		return {
			text:
				overlay.phase === 'asked'
					? `${jobs} running. Cancel ${running === 1 ? 'it' : 'them'} and quit? ${keyOf('confirm')}/${keyOf('deny')}`
					: `cancelling ${jobs}… ${keyOf('quit')} again: quit now`,
			warn: true,
		};
	},
};
