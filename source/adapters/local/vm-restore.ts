import {randomBytes} from 'node:crypto';
import {constants as fsConstants} from 'node:fs';
import {chmod, copyFile, mkdir, rename, rm} from 'node:fs/promises';
import path from 'node:path';
import {SnapdeckError} from '../../core/errors.js';
import {uuidFrom} from '../../core/identity.js';
import {assertValidName} from '../../core/names.js';
import {fileExists} from '../file-checks.js';
import type {Inspection, WorkFolders} from '../hypervisor.js';
import {TOKEN_FILE} from '../state/work-folder.js';
import type {LocalLab} from './lab.js';
import {VmFile, writeVmFile} from './vm-file.js';

/**
 * Puts a direct-boot VM's kernel and initramfs into a new VM's folder, at the names its vm.json
 * gives them, from the point's copies (`bootFiles`, by those names). A point without them (taken
 * by an older snapdeck) cannot become a VM that starts at once: `required` refuses it, saying so.
 */
export async function copyKernel(
	vm: VmFile,
	staging: string,
	bootFiles: Readonly<Record<string, string>>,
	required: boolean,
): Promise<void> {
	const kernel = vm.qemu?.kernel;
	if (!kernel) return;
	for (const name of [kernel.file, ...(kernel.initrd ? [kernel.initrd] : [])]) {
		const from = bootFiles[name];
		// Restored as a VM to start later, a point of an older snapdeck still gives its disks (its kernel is the operator's to put there).
		if (from === undefined && !required) continue;
		if (from === undefined)
			throw new SnapdeckError(
				'refused',
				`${vm.name} boots the kernel file ${name}, which this point does not hold (it was taken before snapdeck kept a VM's kernel and initramfs with its points)`,
				'restore its disks with --to PATH and give the new VM a kernel of its own, or restore a newer point',
			);
		const to = path.join(staging, name);
		await mkdir(path.dirname(to), {recursive: true, mode: 0o700});
		await copyFile(from, to, fsConstants.COPYFILE_EXCL);
		await chmod(to, 0o600);
	}
}

/** A new VM's identity on this host. */
export const newUuid = () => uuidFrom(randomBytes(16));

/** A new VM folder beside the others, with a vm.json from the backup's and the restored images. */
export async function restoreVm(
	lab: LocalLab,
	name: string,
	definition: unknown,
	disks: readonly string[],
	write: (disk: string, target: string) => Promise<void>,
	work?: WorkFolders,
	bootFiles: Readonly<Record<string, string>> = {},
) {
	const vm = definitionToRestore(name, definition);
	return newVmFolder(lab, name, work, async staging => {
		await copyKernel(vm, staging, bootFiles, false);
		for (const disk of disks) await write(disk, path.join(staging, `${disk}.qcow2`));
		await writeVmFile(staging, {
			...vm,
			name,
			uuid: newUuid(),
			current: null,
			snapshots: [],
			qmp: vm.qmp === null ? null : 'qmp.sock',
			disks: disks.map(disk => ({target: disk, file: `${disk}.qcow2`})),
			description: `restored from a backup of ${vm.name}`,
		});
		return Object.fromEntries(disks.map(disk => [disk, `${disk}.qcow2`]));
	});
}

/** A stopped VM's whole-VM archive: every image of its folder's snapshot tree, by file name. */
export async function archiveImages(lab: LocalLab, {state}: Inspection) {
	const folder = await lab.folderOf(state.definition.name);
	const nested = Object.keys(state.images).filter(name => name.includes('/') || name.includes(path.sep));
	if (nested.length > 0)
		throw new SnapdeckError(
			'refused',
			`${state.definition.name} keeps images in subfolders (${nested.join(', ')}), which a whole-VM archive does not hold yet`,
			'back it up without --with-snapshots',
		);
	return {
		images: Object.values(state.images).map(image => ({
			name: image.file,
			path: path.join(folder, image.file),
			backing: image.backing,
		})),
	};
}

/** A new VM folder from a whole-VM archive: every image of it, and its vm.json under the new name. */
export async function restoreArchive(
	lab: LocalLab,
	name: string,
	definition: unknown,
	images: readonly string[],
	copy: (image: string, target: string) => Promise<void>,
	work?: WorkFolders,
) {
	const vm = definitionToRestore(name, definition);
	// The definition names its images by file name: each must be one the archive holds.
	const missing = [...vm.disks, ...vm.snapshots.flatMap(snapshot => snapshot.disks)]
		.map(disk => disk.file)
		.filter(file => !images.includes(file));
	if (missing.length > 0)
		throw new SnapdeckError(
			'refused',
			`the archive's vm.json names ${[...new Set(missing)].join(', ')}, which the archive does not hold`,
			'restore the present state instead: --to PATH, or a point without --with-snapshots',
		);
	return newVmFolder(lab, name, work, async staging => {
		for (const image of images) await copy(image, path.join(staging, image));
		await writeVmFile(staging, {
			...vm,
			name,
			uuid: newUuid(),
			qmp: vm.qmp === null ? null : 'qmp.sock',
			description: `restored from an archive of ${vm.name}${vm.description ? `: ${vm.description}` : ''}`,
		});
		return Object.fromEntries(vm.disks.map(disk => [disk.target, disk.file]));
	});
}

/** The vm.json a backup recorded, for a new VM `name`. */
export function definitionToRestore(name: string, definition: unknown): VmFile {
	assertValidName('VM', name);
	const parsed = VmFile.safeParse(definition);
	if (!parsed.success)
		throw new SnapdeckError(
			'refused',
			'the backup point does not hold a local VM definition (vm.json), so it cannot become a VM here',
			'restore its disks with --to PATH instead',
		);
	return parsed.data;
}

/**
 * Builds a new VM folder in a job's work folder in the lab (`work`; else a hidden folder of its
 * own) and renames it into place whole: a restore killed part way leaves no half VM in the list,
 * and recover (or the next restore of the same name) removes what it left. `build` fills the
 * folder and names the images by disk; they come back as absolute paths.
 */
export async function newVmFolder(
	{root, uri}: LocalLab,
	name: string,
	work: WorkFolders | undefined,
	build: (staging: string) => Promise<Record<string, string>>,
): Promise<Record<string, string>> {
	const folder = path.join(root, name);
	if (await fileExists(folder))
		throw new SnapdeckError(
			'refused',
			`there is already a VM (or a folder) '${name}' in ${uri}`,
			'choose another name with --as',
		);
	let staging: string;
	if (work) staging = await work(root, 'new-vm');
	else {
		staging = path.join(root, `.${name}.snapdeck-partial`);
		await rm(staging, {recursive: true, force: true});
		await mkdir(staging, {mode: 0o700});
	}
	try {
		const images = await build(staging);
		await chmod(staging, 0o755);
		await rename(staging, folder);
		// Renamed first: a kill between the two leaves a whole VM with a stray token file, never a work folder without one.
		await rm(path.join(folder, TOKEN_FILE), {force: true});
		return Object.fromEntries(Object.entries(images).map(([disk, file]) => [disk, path.join(folder, file)]));
	} catch (error) {
		// The folder is new and ours: nothing of it is kept from a failed restore.
		await rm(staging, {recursive: true, force: true});
		throw error;
	}
}
