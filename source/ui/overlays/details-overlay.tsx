import {DetailsBox, detailRows} from '../components/dialogs.js';
import {scrollBoxLayout} from '../components/scroll-box.js';
import {displayKey} from '../keymap.js';
import {pagerScroll} from '../pager.js';
import type {OverlayModule, OverlayOf} from './overlay.js';

/** One item (a backup point, a journal record) whole, scrolled like a plan. */
export const detailsOverlay: OverlayModule<OverlayOf<'details'>> = {
	context: () => 'details',
	key(overlay, {command, geometry, update, close}) {
		const scroll = pagerScroll(
			command,
			scrollBoxLayout(detailRows(overlay.title, overlay.lines, geometry.width), geometry, overlay.scroll),
		);
		if (scroll !== null) return update({...overlay, scroll});
		if (command === 'dismiss') return close();
	},
	render: (overlay, {keymap, geometry, keys}) => (
		<DetailsBox
			title={overlay.title}
			lines={overlay.lines}
			geometry={geometry}
			scroll={overlay.scroll}
			closeKey={displayKey(keymap.keys.dismiss[0] ?? '')}
			keys={keys}
		/>
	),
	pager: () => 'view',
};
