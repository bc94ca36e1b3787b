import {handleStep, type Step, type StepExecutor, type StepHandlers} from '../../core/plan.js';
import {imageFolder} from './image-folder.js';
import {qcow2InternalStore, type InternalOp} from './qcow2-internal-store.js';
import {qcow2OverlayStore, type OverlayOp} from './qcow2-overlay-store.js';
import type {QemuImg} from './qemu-img.js';

/** The step kinds that only touch qcow2 files: those of the two qcow2 snapshot stores. */
export type ImageStepOp = OverlayOp | InternalOp;

/**
 * The steps that only touch qcow2 files, carried out by the snapshot store each belongs to (the
 * overlay store and the internal one), with qemu-img, on files named relative to `folder`: a
 * stopped VM's images, or a backup repository's.
 */
export function imageExecutor(
	folder: string,
	qemuImg: QemuImg,
): StepExecutor & {readonly handlers: StepHandlers<ImageStepOp>} {
	const images = imageFolder(folder, qemuImg);
	const overlays = qcow2OverlayStore(images);
	const internal = qcow2InternalStore(images);
	const handlers: StepHandlers<ImageStepOp> = {...overlays.handlers, ...internal.handlers};
	return {
		handlers,
		execute: (step, context) => handleStep(handlers, step, context),
		async rollback(step: Step) {
			// Each store undoes only its own steps.
			await overlays.rollback(step);
			await internal.rollback(step);
		},
	};
}
