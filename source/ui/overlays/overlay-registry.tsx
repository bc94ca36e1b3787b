import {scrollKeys} from '../components/scroll-box.js';
import type {Jobs} from '../hooks/use-jobs.js';
import type {Context, Keymap} from '../keymap.js';
import type {Overlay} from '../state.js';
import {editText, textEditFor} from '../text-edit.js';
import {backupOverlay} from './backup-overlay.js';
import {confirmOverlay} from './confirm-overlay.js';
import {detailsOverlay} from './details-overlay.js';
import {filterOverlay} from './filter-overlay.js';
import {helpOverlay} from './help-overlay.js';
import type {OverlayDraw, OverlayKeys, OverlayModule, OverlayOf, OverlayStatus} from './overlay.js';
import {planningOverlay} from './planning-overlay.js';
import {quittingOverlay} from './quitting-overlay.js';
import {restoreOverlay} from './restore-overlay.js';
import {takeOverlay} from './take-overlay.js';

export type {OverlayKeys} from './overlay.js';

type Kind = Overlay['kind'];

/** Every overlay, by kind: a new kind in state.ts's Overlay does not compile until its module is here. */
const OVERLAYS: {readonly [K in Kind]: OverlayModule<OverlayOf<K>>} = {
	help: helpOverlay,
	details: detailsOverlay,
	take: takeOverlay,
	restore: restoreOverlay,
	backup: backupOverlay,
	filter: filterOverlay,
	quitting: quittingOverlay,
	confirm: confirmOverlay,
	planning: planningOverlay,
};

/** The module of an overlay, typed for the overlay it is given (its kind picks both). */
const moduleOf = <K extends Kind>(overlay: OverlayOf<K>): OverlayModule<OverlayOf<K>> => OVERLAYS[overlay.kind as K];

/** The keymap context of an overlay: which commands its keys mean. */
export const overlayContext = (overlay: Overlay, jobs: Jobs): Context => moduleOf(overlay).context(overlay, jobs);

/** A key while an overlay is open: only the overlay acts on it. Returns the status line's text, if any. */
export function overlayKey({overlay, ...keys}: OverlayKeys): string | void {
	const module = moduleOf(overlay);
	const edit = textEditFor(keys.keymap, module.context(overlay, keys.jobs), keys.spec);
	return module.key(overlay, {
		...keys,
		update: next => keys.dispatch({type: 'update', overlay: next}),
		close: () => keys.dispatch({type: 'close'}),
		edited: (value, at) => (edit === null ? null : editText(value, at ?? [...value].length, edit)),
	});
}

export interface OverlayViewProps extends Omit<OverlayDraw, 'keys'> {
	readonly overlay: Overlay;
}

/** What an overlay draws in the body (or, a plan in a small terminal, over everything); one that draws on the status line draws nothing here. */
export function OverlayView({overlay, ...draw}: OverlayViewProps) {
	return moduleOf(overlay).render?.(overlay, {...draw, keys: scrollKeys(draw.keymap)}) ?? null;
}

/** Whether the overlay covers the screen's body (one on the status line, a filter or the quit question, leaves the screen in view). */
export const coversBody = (overlay: Overlay | null) => overlay !== null && moduleOf(overlay).render !== null;

/** What the open overlay says on the status line, if anything. */
export const overlayStatus = (
	overlay: Overlay | null,
	now: {readonly filter: string; readonly running: number; readonly keymap: Keymap},
): OverlayStatus | null => (overlay && moduleOf(overlay).status?.(overlay, now)) ?? null;

/** Whether the open overlay is a pager, and which: a plan or a view (pager.ts's geometry draws it). */
export const pagerOf = (overlay: Overlay | null, jobs: Jobs): 'plan' | 'view' | null =>
	(overlay && moduleOf(overlay).pager?.(overlay, jobs)) ?? null;
