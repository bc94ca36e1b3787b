import path from 'node:path';
import {BACKUP_BITMAP_PREFIX} from '../../core/backup-manifest.js';
import {handleStep, refuseSteps, type StepExecutor, type StepHandlers} from '../../core/plan.js';
import type {CommandRunner} from '../exec.js';
import {imageExecutor} from '../qemu/image-executor.js';
import type {QemuImg} from '../qemu/qemu-img.js';
import {startVm} from './qemu-process.js';
import {readVmFile, writeVmFile, type VmFile} from './vm-file.js';

/** Carries out plan steps with qemu-img on the images of a stopped VM in `folder`. */
export function offlineExecutor(
	folder: string,
	vm: VmFile,
	qemuImg: QemuImg,
	runner: CommandRunner,
): StepExecutor & {readonly handlers: StepHandlers} {
	const images = imageExecutor(folder, qemuImg);
	const handlers: StepHandlers = {
		...images.handlers,
		'write-definition': step => writeVmFile(folder, {...vm, ...step.definition}),
		// Already stopped (a resumed plan whose VM stop went through).
		'stop-vm': async () => undefined,
		'start-vm': async () => startVm(folder, await readVmFile(folder), runner),
		'create-overlay': async (step, context) => {
			await images.handlers['create-overlay'](step, context);
			// A snapshot (an overlay on the disk's active image, not a revert's on an older one)
			// keeps the backups' dirty bitmaps going, so the next backup can still be incremental.
			if (!vm.disks.some(disk => disk.target === step.disk && disk.file === step.backing)) return;
			const bitmaps = (await qemuImg.info(path.resolve(folder, step.backing)))['format-specific']?.data.bitmaps ?? [];
			for (const {name} of bitmaps.filter(bitmap => bitmap.name.startsWith(BACKUP_BITMAP_PREFIX))) {
				await qemuImg.carryBitmap(path.resolve(folder, step.file), path.resolve(folder, step.backing), name);
			}
		},
		...refuseSteps(['write-manifest'], op => new Error(`internal: a VM's plan has no ${op} step`)),
	};
	return {
		handlers,
		execute: (step, context) => handleStep(handlers, step, context),
		rollback: step => images.rollback(step),
	};
}
