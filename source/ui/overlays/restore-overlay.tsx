import {RestoreDialog} from '../components/dialogs.js';
import type {OverlayModule, OverlayOf} from './overlay.js';

/** The name a restore is made under. */
export const restoreOverlay: OverlayModule<OverlayOf<'restore'>> = {
	// One field: Tab has nowhere to go, so the help bar offers it not.
	context: () => 'nameDialog',
	key(overlay, {command, actions, update, close, edited}) {
		if (command === 'submit') {
			// An invalid name is said on the status line; the dialog stays to fix it.
			return actions.restore(overlay.form) ?? close();
		}
		if (command === 'dismiss') return close();
		const name = edited(overlay.form.name, overlay.at);
		if (name) update({...overlay, at: name.at, form: {...overlay.form, name: name.value}});
	},
	render: (overlay, {height, width}) => (
		<RestoreDialog form={overlay.form} at={overlay.at} height={height} width={width} />
	),
};
