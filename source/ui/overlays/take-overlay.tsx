import {TakeDialog, takeFields} from '../components/dialogs.js';
import {displayKey, type Command, type Context, type Keymap} from '../keymap.js';
import type {OverlayModule, OverlayOf} from './overlay.js';

/** The take dialog's last line: its keys, from the keymap. */
function takeHint(keymap: Keymap): string {
	const keys = (command: Command, context: Context = 'dialog') =>
		keymap.keysIn(context, command).map(displayKey).join('/');
	return `${keys('nextField')}, ${keys('previousField')}: next, previous field; ${keys('tick', 'dialogOption')}: tick; ${keys('submit')}: take.`;
}

/** A new snapshot's name, description, kind and options: the text fields take text, an option takes the tick key. */
export const takeOverlay: OverlayModule<OverlayOf<'take'>> = {
	context: overlay =>
		overlay.form.field === 'name' || overlay.form.field === 'description' ? 'dialog' : 'dialogOption',
	key(overlay, {command, actions, update, close, edited}) {
		const {form} = overlay;
		if (command === 'submit') {
			return actions.take(form) ?? close();
		}
		if (command === 'dismiss') return close();
		if (command === 'nextField' || command === 'previousField') {
			const fields = takeFields(form);
			const step = command === 'nextField' ? 1 : fields.length - 1;
			return update({
				...overlay,
				at: null,
				form: {...form, field: fields[(fields.indexOf(form.field) + step) % fields.length]!},
			});
		}
		if (form.field === 'name' || form.field === 'description') {
			const field = form.field;
			const text = edited(form[field], overlay.at);
			if (text) update({...overlay, at: text.at, form: {...form, [field]: text.value}});
			return;
		}
		// On an option, the tick key ticks it; other letters do nothing there.
		if (command === 'tick') update({...overlay, form: {...form, [form.field]: !form[form.field]}});
	},
	render: (overlay, {keymap, height, width}) => (
		<TakeDialog form={overlay.form} at={overlay.at} height={height} width={width} hint={takeHint(keymap)} />
	),
};
