import {withCursor} from '../text-edit.js';
import type {OverlayModule, OverlayOf} from './overlay.js';

/** The list's filter, typed on the status line with the list in view: it filters as it is typed. */
export const filterOverlay: OverlayModule<OverlayOf<'filter'>> = {
	context: () => 'filter',
	key(overlay, {command, dispatch, filter, update, close, edited}) {
		if (command === 'submit') return close();
		if (command === 'dismiss') {
			dispatch({type: 'filter', text: ''});
			return close();
		}
		const text = edited(filter, overlay.at);
		if (text) {
			dispatch({type: 'filter', text: text.value});
			update({kind: 'filter', at: text.at});
		}
	},
	render: null,
	status: (overlay, {filter}) => ({text: `filter: ${withCursor(filter, overlay.at)}`, warn: false}),
};
