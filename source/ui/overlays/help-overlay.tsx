import {helpLayout, HelpOverlay} from '../components/help-panel.js';
import {pagerScroll} from '../pager.js';
import type {OverlayModule, OverlayOf} from './overlay.js';

/** The `?` screen: the keys of the screen under it, scrolled like a plan; the help key closes it too. */
export const helpOverlay: OverlayModule<OverlayOf<'help'>> = {
	context: () => 'help',
	key(overlay, {command, spec, keymap, geometry, screen, screenLabel, update, close}) {
		const scroll = pagerScroll(command, helpLayout(keymap, screen, screenLabel, geometry, overlay.scroll).layout);
		if (scroll !== null) return update({...overlay, scroll});
		if (command === 'dismiss' || keymap.keys.help.includes(spec)) close();
	},
	render: (overlay, {keymap, geometry, screen, keys}) => (
		<HelpOverlay
			keymap={keymap}
			geometry={geometry}
			scroll={overlay.scroll}
			context={screen.context}
			label={screen.label}
			keys={keys}
		/>
	),
	pager: () => 'view',
};
