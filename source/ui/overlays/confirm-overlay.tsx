import {needsTypedConfirmation} from '../../core/plan.js';
import {ConfirmPlan, confirmView} from '../components/confirm-plan.js';
import {displayKey} from '../keymap.js';
import {pagerScroll, shownRows} from '../pager.js';
import {withCursor} from '../text-edit.js';
import type {OverlayKeyInput, OverlayModule, OverlayOf} from './overlay.js';

type ConfirmOverlay = OverlayOf<'confirm'>;

/**
 * A key on a plan waiting for its answer: characters go into the name being typed (j and k too), the
 * arrows and pages scroll it by the layout on screen now (a page is exactly the rows shown), and it
 * is accepted once every line of it has been on screen.
 */
function confirmKey(
	overlay: ConfirmOverlay,
	{command, jobs, geometry, notice, keymap, update, close, edited}: OverlayKeyInput<ConfirmOverlay>,
): string | void {
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
	const view = confirmView(plan, geometry, {
		scroll: overlay.scroll,
		typed: typedNeeded ? withCursor(overlay.typed, overlay.at) : null,
		seen: overlay.seen,
		note: notice,
	});
	const scroll = pagerScroll(command, view.layout);
	if (scroll !== null)
		return update({...overlay, scroll, seen: [...view.seen, ...shownRows({...view.layout, start: scroll})]});
	const accept = () => {
		if (view.unread === 0) return answer(true);
		update({...overlay, seen: [...view.seen]});
		return `${view.unread} line${view.unread === 1 ? '' : 's'} not read yet: ${displayKey(keymap.keys.pageDown[0] ?? '')}`;
	};
	if (command === 'confirm') return accept();
	if (command === 'deny' || command === 'dismiss') return answer(false);
	if (command === 'submit')
		return overlay.typed === plan.vm
			? accept()
			: `type ${plan.vm} exactly, or ${displayKey(keymap.keys.dismiss[0] ?? '')} to cancel`;
}

/** A job's plan, whole, waiting for its answer; one that discards data or stops the VM asks for the VM's name typed. */
export const confirmOverlay: OverlayModule<ConfirmOverlay> = {
	context: (_overlay, jobs) =>
		jobs.confirmation && needsTypedConfirmation(jobs.confirmation.plan) ? 'confirmTyped' : 'confirm',
	key: confirmKey,
	render(overlay, {jobs, geometry, notice, keys}) {
		const plan = jobs.confirmation?.plan;
		if (!plan) return null;
		const typed = needsTypedConfirmation(plan) ? withCursor(overlay.typed, overlay.at) : null;
		return (
			<ConfirmPlan
				plan={plan}
				geometry={geometry}
				state={{scroll: overlay.scroll, typed, seen: overlay.seen, note: notice}}
				keys={keys}
			/>
		);
	},
	// Until its plan has arrived, nothing is drawn as a pager.
	pager: (_overlay, jobs) => (jobs.confirmation ? 'plan' : null),
};
