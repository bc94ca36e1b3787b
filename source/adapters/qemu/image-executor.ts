import {rm} from 'node:fs/promises';
import path from 'node:path';
import {SnapdeckError} from '../../core/errors.js';
import {handleStep, type Step, type StepExecutor, type StepHandlers} from '../../core/plan.js';
import {fileExists} from '../file-checks.js';
import {matchSource} from '../safe-fs.js';
import {readQcow2Header} from './qcow2-header.js';
import type {QemuImg} from './qemu-img.js';

/** The step kinds that only touch qcow2 files. */
export type ImageStepOp = 'create-overlay' | 'internal-create' | 'internal-apply' | 'internal-delete' | 'copy-internal' | 'commit' | 'rebase' | 'delete-image';

/**
 * The steps that only touch qcow2 files (create, internal snapshots, commit, rebase, delete), with
 * qemu-img, on files named relative to `folder`: a stopped VM's images, or a backup repository's.
 */
export function imageExecutor(folder: string, qemuImg: QemuImg): StepExecutor & {readonly handlers: StepHandlers<ImageStepOp>} {
	/**
	 * A file a step names, inside `folder` or refused: a plan resumed after a crash is read back from
	 * the folder's state (pending.json), where whoever else writes the folder could name any file.
	 */
	const resolve = (file: string) => {
		const absolute = path.resolve(folder, file);
		const inside = path.relative(folder, absolute);
		if (inside === '' || inside === '..' || inside.startsWith(`..${path.sep}`) || path.isAbsolute(inside)) {
			throw new SnapdeckError('failed', `a step of the plan names ${file}, which is not a file in ${folder}: nothing was done with it`, `the plan on record was not written by snapdeck: look at ${path.join(folder, '.snapdeck', 'pending.json')}, and remove it if no snapdeck runs there`, 'damaged');
		}
		return absolute;
	};
	/** A backing reference as it must be written into `image`'s header: relative to the image. */
	const backingFor = (image: string, backing: string) => path.relative(path.dirname(resolve(image)), resolve(backing));
	const hasInternal = async (file: string, name: string) =>
		((await qemuImg.info(resolve(file))).snapshots ?? []).some(snapshot => snapshot.name === name);
	/** Files found in the way of a new image: not ours, so never removed by a rollback either. */
	const notOurs = new Set<string>();
	const freshTarget = async (file: string, resuming: boolean) => {
		if (!(await fileExists(resolve(file)))) return;
		// A file this plan began before a crash is ours to replace; anything else is never overwritten.
		if (!resuming) notOurs.add(file);
		if (!resuming) throw new SnapdeckError('refused', `${resolve(file)} already exists; snapdeck never overwrites an image`, 'inspect the file, then move it away');
		await rm(resolve(file));
	};

	const handlers: StepHandlers<ImageStepOp> = {
		'create-overlay': async (step, {resuming}) => {
			await freshTarget(step.file, resuming);
			await qemuImg.create(resolve(step.file), {backing: backingFor(step.file, step.backing)});
			return matchSource(resolve(step.file), resolve(step.backing));
		},
		'internal-create': async (step, {resuming}) => {
			if (await hasInternal(step.file, step.name)) {
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
			if (!(await hasInternal(step.file, step.name)) && resuming) return;
			return qemuImg.snapshotDelete(resolve(step.file), step.name);
		},
		'copy-internal': async (step, {resuming, signal, onProgress}) => {
			await freshTarget(step.target, resuming);
			await qemuImg.convertSnapshot(resolve(step.source), step.name, resolve(step.target), step.backing === null ? null : backingFor(step.target, step.backing), {signal, onProgress});
			return matchSource(resolve(step.target), resolve(step.source));
		},
		commit: async (step, {signal, onProgress}) => {
			// The header says what the top is backed by now (no qemu-img process for it).
			const actual = (await readQcow2Header(resolve(step.top))).backing ?? undefined;
			if (actual === undefined || actual !== resolve(step.base)) {
				throw new SnapdeckError('refused', `${step.top} is no longer backed by ${step.base} (it is backed by ${actual ?? 'nothing'}); the plan is stale`, 'run the command again for a fresh plan');
			}
			return qemuImg.commit(resolve(step.top), {signal, onProgress});
		},
		rebase: async (step, {resuming, signal, onProgress}) => {
			const backing = step.backing === null ? null : backingFor(step.file, step.backing);
			if (resuming) {
				const current = (await qemuImg.info(resolve(step.file)))['full-backing-filename'];
				if ((current === undefined && step.backing === null) || (current !== undefined && step.backing !== null && path.resolve(current) === resolve(step.backing))) return;
			}
			return qemuImg.rebase(resolve(step.file), backing, {signal, onProgress, unsafe: !step.copy});
		},
		'delete-image': step => rm(resolve(step.file), {force: true}),
	};

	return {
		handlers,
		execute: (step, context) => handleStep(handlers, step, context),
		async rollback(step: Step) {
			const created = step.op === 'create-overlay' ? step.file : step.op === 'copy-internal' ? step.target : undefined;
			if (created !== undefined && !notOurs.has(created)) await rm(resolve(created), {force: true});
			if (step.op === 'internal-create' && (await fileExists(resolve(step.file))) && (await hasInternal(step.file, step.name))) {
				await qemuImg.snapshotDelete(resolve(step.file), step.name);
			}
		},
	};
}
