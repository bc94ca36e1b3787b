import path from 'node:path';
import {BACKUP_BITMAP_PREFIX} from '../../core/backup.js';
import type {StepExecutor} from '../../core/plan.js';
import type {CommandRunner} from '../exec.js';
import {imageExecutor} from '../qemu/image-executor.js';
import type {QemuImg} from '../qemu/qemu-img.js';
import {startVm} from './qemu-process.js';
import {readVmFile, writeVmFile, type VmFile} from './vm-file.js';

/** Carries out plan steps with qemu-img on the images of a stopped VM in `folder`. */
export function offlineExecutor(folder: string, vm: VmFile, qemuImg: QemuImg, runner: CommandRunner): StepExecutor {
	const images = imageExecutor(folder, qemuImg);
	return {
		async execute(step, context) {
			switch (step.op) {
				case 'write-definition':
					return writeVmFile(folder, {...vm, ...step.definition});
				case 'stop-vm':
					return; // Already stopped (a resumed plan whose VM stop went through).
				case 'start-vm':
					return startVm(folder, await readVmFile(folder), runner);
				case 'create-overlay': {
					await images.execute(step, context);
					// A snapshot (an overlay on the disk's active image, not a revert's on an older one)
					// keeps the backups' dirty bitmaps going, so the next backup can still be incremental.
					if (!vm.disks.some(disk => disk.target === step.disk && disk.file === step.backing)) return;
					const bitmaps = (await qemuImg.info(path.resolve(folder, step.backing)))['format-specific']?.data.bitmaps ?? [];
					for (const {name} of bitmaps.filter(bitmap => bitmap.name.startsWith(BACKUP_BITMAP_PREFIX))) {
						await qemuImg.carryBitmap(path.resolve(folder, step.file), path.resolve(folder, step.backing), name);
					}
					return;
				}
				default:
					return images.execute(step, context);
			}
		},
		rollback: step => images.rollback(step),
	};
}
