import path from 'node:path';
import {SnapdeckError} from '../../core/errors.js';
import type {StepHandlers} from '../../core/plan.js';
import type {SnapshotStore} from '../../core/snapshot-store.js';
import {freshTarget, type ImageFolder} from './image-folder.js';

export const OVERLAY_OPS = ['create-overlay', 'commit', 'rebase', 'delete-image'] as const;
export type OverlayOp = (typeof OVERLAY_OPS)[number];

/**
 * External snapshots as qcow2 overlays, with qemu-img: a snapshot is a new overlay on the image it
 * freezes (a revert: on the snapshot's image); a merge commits an image down into its backing file
 * or streams its backing file up into it (rebase), then deletes the image no one reads.
 */
export function qcow2OverlayStore(images: ImageFolder): SnapshotStore<OverlayOp> {
	const {qemuImg, resolve, backingFor} = images;
	/** Files found in the way of a new image: not ours, so never removed by a rollback either. */
	const notOurs = new Set<string>();
	const handlers: StepHandlers<OverlayOp> = {
		'create-overlay': async (step, {resuming}) => {
			await freshTarget(images, step.file, resuming, notOurs);
			await qemuImg.create(resolve(step.file), {backing: backingFor(step.file, step.backing)});
			return images.matchSource(step.file, step.backing);
		},
		commit: async (step, {signal, onProgress}) => {
			const actual = (await images.backingOf(step.top)) ?? undefined;
			if (actual === undefined || actual !== resolve(step.base)) {
				throw new SnapdeckError(
					'refused',
					`${step.top} is no longer backed by ${step.base} (it is backed by ${actual ?? 'nothing'}); the plan is stale`,
					'run the command again for a fresh plan',
				);
			}
			return qemuImg.commit(resolve(step.top), {signal, onProgress});
		},
		rebase: async (step, {resuming, signal, onProgress}) => {
			const backing = step.backing === null ? null : backingFor(step.file, step.backing);
			if (resuming) {
				const current = (await qemuImg.info(resolve(step.file)))['full-backing-filename'];
				if (
					(current === undefined && step.backing === null) ||
					(current !== undefined && step.backing !== null && path.resolve(current) === resolve(step.backing))
				)
					return;
			}
			return qemuImg.rebase(resolve(step.file), backing, {signal, onProgress, unsafe: !step.copy});
		},
		'delete-image': step => images.remove(step.file),
	};
	return {
		kind: 'external',
		ops: OVERLAY_OPS,
		handlers,
		async rollback(step) {
			if (step.op === 'create-overlay' && !notOurs.has(step.file)) await images.remove(step.file);
		},
		read: file => images.read(file),
	};
}
