import type {Dispatch} from 'react';
import {needsTypedConfirmation} from '../core/plan.js';
import type {Actions} from './actions.js';
import {ConfirmPlan, confirmView} from './components/confirm-plan.js';
import {BackupDialog, DetailsBox, detailRows, RestoreDialog, TakeDialog, takeFields} from './components/dialogs.js';
import {scrollBoxLayout, scrollKeys} from './components/scroll-box.js';
import {pagerScroll, shownRows, type PagerGeometry} from './pager.js';
import {helpLayout, HelpOverlay} from './components/help-overlay.js';
import type {Jobs} from './hooks/use-jobs.js';
import {displayKey, type Command, type Context, type Keymap} from './keymap.js';
import type {Overlay, UiAction} from './state.js';
import {editText, textEditFor, withCursor} from './text-edit.js';

/** The keymap context of an overlay: which commands its keys mean. */
export function overlayContext(overlay: Overlay, jobs: Jobs): Context {
	switch (overlay.kind) {
		case 'help': return 'help';
		case 'details': return 'details';
		case 'take': return overlay.form.field === 'name' || overlay.form.field === 'description' ? 'dialog' : 'dialogOption';
		case 'restore': return 'dialog';
		case 'backup': return 'backupDialog';
		case 'filter': return 'filter';
		case 'quitting': return 'quitting';
		case 'confirm': return jobs.confirmation && needsTypedConfirmation(jobs.confirmation.plan) ? 'confirmTyped' : 'confirm';
	}
}

export interface OverlayKeys {
	readonly overlay: Overlay;
	readonly command: Command | undefined;
	readonly spec: string;
	readonly dispatch: Dispatch<UiAction>;
	readonly jobs: Jobs;
	readonly actions: Actions;
	readonly filter: string;
	/** Rows the body has, the terminal's columns, and where a pager (a plan, a detail view, the help) is drawn. */
	readonly height: number;
	readonly width: number;
	readonly geometry: PagerGeometry;
	/** The status line's note now (a plan covering the terminal shows it inside). */
	readonly notice: string | null;
	readonly quit: {readonly force: () => void};
	readonly keymap: Keymap;
	/** The screen under the overlay (the help lists its keys) and what it is called. */
	readonly screen: Context;
	readonly screenLabel: string;
}

/** A key while an overlay is open: only the overlay acts on it. Returns the status line's text, if any. */
export function overlayKey({overlay, command, spec, dispatch, jobs, actions, filter, geometry, notice, quit, keymap, screen, screenLabel}: OverlayKeys): string | void {
	const update = (next: Overlay) => dispatch({type: 'update', overlay: next});
	const close = () => dispatch({type: 'close'});
	/** `value` edited by the key (readline's keys, from the keymap); null when the key does not edit text here. */
	const edit = textEditFor(keymap, overlayContext(overlay, jobs), spec);
	const edited = (value: string, at: number | null) => (edit === null ? null : editText(value, at ?? [...value].length, edit));
	switch (overlay.kind) {
		case 'quitting':
			if (overlay.phase === 'asked' && (command === 'confirm' || command === 'quit')) {
				if (jobs.confirmation) jobs.answer(false);
				jobs.cancelAll();
				return update({kind: 'quitting', phase: 'cancelling'});
			}
			if (overlay.phase === 'asked' && command === 'deny') return close();
			if (overlay.phase === 'cancelling' && command === 'quit') return quit.force();
			return;
		case 'confirm': return confirmKey({overlay, command, jobs, geometry, notice, keymap, update, close, edited});
		case 'details': {
			const scroll = pagerScroll(command, scrollBoxLayout(detailRows(overlay.title, overlay.lines, geometry.width), geometry, overlay.scroll));
			if (scroll !== null) return update({...overlay, scroll});
			if (command === 'dismiss') return close();
			return;
		}
		case 'backup':
			if (command === 'backupAuto' || command === 'backupFull' || command === 'backupIncremental') {
				close();
				return actions.backup(overlay.vm, command === 'backupAuto' ? 'auto' : command === 'backupFull' ? 'full' : 'incremental');
			}
			if (command === 'dismiss') return close();
			return;
		case 'restore': {
			if (command === 'submit') {
				// An invalid name is said on the status line; the dialog stays to fix it.
				return actions.restore(overlay.form) ?? close();
			}
			if (command === 'dismiss') return close();
			const name = edited(overlay.form.name, overlay.at);
			if (name) update({...overlay, at: name.at, form: {...overlay.form, name: name.value}});
			return;
		}
		case 'take': {
			const {form} = overlay;
			if (command === 'submit') {
				return actions.take(form) ?? close();
			}
			if (command === 'dismiss') return close();
			if (command === 'nextField' || command === 'previousField') {
				const fields = takeFields(form);
				const step = command === 'nextField' ? 1 : fields.length - 1;
				return update({...overlay, at: null, form: {...form, field: fields[(fields.indexOf(form.field) + step) % fields.length]!}});
			}
			if (form.field === 'name' || form.field === 'description') {
				const field = form.field;
				const text = edited(form[field], overlay.at);
				if (text) update({...overlay, at: text.at, form: {...form, [field]: text.value}});
				return;
			}
			// On an option, the tick key ticks it; other letters do nothing there.
			if (command === 'tick') update({...overlay, form: {...form, [form.field]: !form[form.field]}});
			return;
		}
		case 'filter': {
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
			return;
		}
		case 'help': {
			const scroll = pagerScroll(command, helpLayout(keymap, screen, screenLabel, geometry, overlay.scroll).layout);
			if (scroll !== null) return update({...overlay, scroll});
			if (command === 'dismiss' || keymap.keys.help.includes(spec)) close();
		}
	}
}

type ConfirmOverlay = Extract<Overlay, {kind: 'confirm'}>;

/**
 * A key on a plan waiting for its answer: characters go into the name being typed (j and k too), the
 * arrows and pages scroll it by the layout on screen now (a page is exactly the rows shown), and it
 * is accepted once every line of it has been on screen.
 */
function confirmKey({overlay, command, jobs, geometry, notice, keymap, update, close, edited}: {
	overlay: ConfirmOverlay; command: Command | undefined; jobs: Jobs; geometry: PagerGeometry; notice: string | null; keymap: Keymap;
	update: (next: Overlay) => void; close: () => void; edited: (value: string, at: number | null) => {value: string; at: number} | null;
}): string | void {
	const plan = jobs.confirmation?.plan;
	if (!plan) return close();
	const answer = (yes: boolean) => {
		jobs.answer(yes);
		close();
	};
	const typedNeeded = needsTypedConfirmation(plan);
	if (typedNeeded) {
		const typed = edited(overlay.typed, overlay.at);
		if (typed) return update({...overlay, typed: typed.value, at: typed.at});
	}
	const view = confirmView(plan, geometry, {scroll: overlay.scroll, typed: typedNeeded ? withCursor(overlay.typed, overlay.at) : null, seen: overlay.seen, note: notice});
	const scroll = pagerScroll(command, view.layout);
	if (scroll !== null) return update({...overlay, scroll, seen: [...view.seen, ...shownRows({...view.layout, start: scroll})]});
	const accept = () => {
		if (view.unread === 0) return answer(true);
		update({...overlay, seen: [...view.seen]});
		return `${view.unread} line${view.unread === 1 ? '' : 's'} not read yet: ${displayKey(keymap.keys.pageDown[0] ?? '')}`;
	};
	if (command === 'confirm') return accept();
	if (command === 'deny' || command === 'dismiss') return answer(false);
	if (command === 'submit') return overlay.typed === plan.vm ? accept() : `type ${plan.vm} exactly, or ${displayKey(keymap.keys.dismiss[0] ?? '')} to cancel`;
}

export interface OverlayViewProps {
	readonly overlay: Overlay;
	readonly jobs: Jobs;
	readonly keymap: Keymap;
	readonly repository: (vm: string) => string;
	/** The body's rows, the terminal's columns and rows (a plan may cover the whole terminal). */
	readonly height: number;
	readonly width: number;
	readonly geometry: PagerGeometry;
	/** The status line's note (a plan covering the terminal shows it inside). */
	readonly notice: string | null;
	/** The screen under the overlay: its context (the help lists its keys) and what it is called. */
	readonly screen: {readonly context: Context; readonly label: string};
}

/** What an overlay draws in the body (or, a plan in a small terminal, over everything); the filter and quitting draw on the status line instead (null here). */
export function OverlayView({overlay, jobs, keymap, repository, height, width, geometry, notice, screen}: OverlayViewProps) {
	const keys = scrollKeys(keymap);
	switch (overlay.kind) {
		case 'help': return <HelpOverlay keymap={keymap} geometry={geometry} scroll={overlay.scroll} context={screen.context} label={screen.label} keys={keys} />;
		case 'confirm': {
			const plan = jobs.confirmation?.plan;
			if (!plan) return null;
			const typed = needsTypedConfirmation(plan) ? withCursor(overlay.typed, overlay.at) : null;
			return <ConfirmPlan plan={plan} geometry={geometry} state={{scroll: overlay.scroll, typed, seen: overlay.seen, note: notice}} keys={keys} />;
		}
		case 'details': return <DetailsBox title={overlay.title} lines={overlay.lines} geometry={geometry} scroll={overlay.scroll} closeKey={displayKey(keymap.keys.dismiss[0] ?? '')} keys={keys} />;
		case 'take': return <TakeDialog form={overlay.form} at={overlay.at} height={height} width={width} hint={takeHint(keymap)} />;
		case 'restore': return <RestoreDialog form={overlay.form} at={overlay.at} height={height} width={width} />;
		case 'backup': return <BackupDialog vm={overlay.vm} repository={repository(overlay.vm)} height={height} width={width} />;
		case 'filter':
		case 'quitting': return null;
	}
}

/** The take dialog's last line: its keys, from the keymap. */
function takeHint(keymap: Keymap): string {
	const keys = (command: Command, context: Context = 'dialog') => keymap.keysIn(context, command).map(displayKey).join('/');
	return `${keys('nextField')}, ${keys('previousField')}: next, previous field; ${keys('tick', 'dialogOption')}: tick; ${keys('submit')}: take.`;
}

/** Whether the overlay covers the screen's body (a filter and the quit question leave the screen in view). */
export const coversBody = (overlay: Overlay | null) => overlay !== null && overlay.kind !== 'filter' && overlay.kind !== 'quitting';

/** The question on the status line while quitting, short enough for 40 columns. */
export function quitQuestion(overlay: Overlay | null, running: number, keymap: Keymap): string | null {
	if (overlay?.kind !== 'quitting') return null;
	const keyOf = (command: 'confirm' | 'deny' | 'quit') => displayKey(keymap.keys[command][0] ?? '');
	const jobs = `${running} job${running === 1 ? '' : 's'}`;
	return overlay.phase === 'asked' ? `${jobs} running. Cancel ${running === 1 ? 'it' : 'them'} and quit? ${keyOf('confirm')}/${keyOf('deny')}` : `cancelling ${jobs}… ${keyOf('quit')} again: quit now`;
}
