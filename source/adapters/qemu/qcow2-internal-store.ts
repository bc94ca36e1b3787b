import {SnapdeckError} from '../../core/errors.js';
import type {StepHandlers} from '../../core/plan.js';
import type {SnapshotStore} from '../../core/snapshot-store.js';
import {freshTarget, type ImageFolder} from './image-folder.js';

export const INTERNAL_OPS = ['internal-create', 'internal-apply', 'internal-delete', 'copy-internal'] as const;
export type InternalOp = (typeof INTERNAL_OPS)[number];

/**
 * Internal snapshots in an image's own qcow2 snapshot table, with qemu-img: taken, applied (a
 * revert in place), copied out into a new image (a revert that must leave the image as it is for
 * the snapshots built on it) and deleted.
 */
export function qcow2InternalStore(images: ImageFolder): SnapshotStore<InternalOp> {
	const {qemuImg, resolve, backingFor} = images;
	const holds = async (file: string, name: string) => (await images.read(file)).snapshots.includes(name);
	/** Files found in the way of a new image: not ours, so never removed by a rollback either. */
	const notOurs = new Set<string>();
	const handlers: StepHandlers<InternalOp> = {
		'internal-create': async (step, {resuming}) => {
			if (await holds(step.file, step.name)) {
				if (resuming) return;
				throw new SnapdeckError('refused', `${step.file} already holds an internal snapshot named '${step.name}'`);
			}
			return qemuImg.snapshotCreate(resolve(step.file), step.name);
		},
		'internal-apply': async step => {
			// QEMU refuses to apply a snapshot to an image with dirty bitmaps ("Device has active
			// dirty bitmaps"); the plan said they go (the next backup of the disk is a full).
			const bitmaps = (await qemuImg.info(resolve(step.file)))['format-specific']?.data.bitmaps ?? [];
			for (const bitmap of bitmaps) await qemuImg.removeBitmap(resolve(step.file), bitmap.name);
			return qemuImg.snapshotApply(resolve(step.file), step.name);
		},
		'internal-delete': async (step, {resuming}) => {
			if (!(await holds(step.file, step.name)) && resuming) return;
			return qemuImg.snapshotDelete(resolve(step.file), step.name);
		},
		'copy-internal': async (step, {resuming, signal, onProgress}) => {
			await freshTarget(images, step.target, resuming, notOurs);
			await qemuImg.convertSnapshot(
				resolve(step.source),
				step.name,
				resolve(step.target),
				step.backing === null ? null : backingFor(step.target, step.backing),
				{signal, onProgress},
			);
			return images.matchSource(step.target, step.source);
		},
	};
	return {
		kind: 'internal',
		ops: INTERNAL_OPS,
		handlers,
		async rollback(step) {
			if (step.op === 'copy-internal' && !notOurs.has(step.target)) await images.remove(step.target);
			if (step.op === 'internal-create' && (await images.exists(step.file)) && (await holds(step.file, step.name))) {
				await qemuImg.snapshotDelete(resolve(step.file), step.name);
			}
		},
		read: file => images.read(file),
	};
}
