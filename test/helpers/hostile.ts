import {readFile, rename, writeFile} from 'node:fs/promises';
import path from 'node:path';
import {labWithVm} from './lab.js';
import {memoryLab} from './memory-lab.js';

/** Sets the window title (OSC 0, ended by BEL), clears the screen (CSI 2J), reverses what follows (RLO). */
export const HOSTILE = '\x1b]0;PWNED\x07\x1b[2J\u202e';
/** How HOSTILE must be shown: every control character escaped, visibly. */
export const HOSTILE_SHOWN = String.raw`\x1b]0;PWNED\x07\x1b[2J\u202e`;

/**
 * A lab of two VMs: h1, whose snapshot's description holds HOSTILE, and h2, whose disk file name
 * holds it, so its error ("... is missing") does too.
 */
export async function hostileLab() {
	const lab = await labWithVm('h1');
	await lab.take('s1');
	const edit = async (
		folder: string,
		change: (vm: {snapshots: Array<{description: string}>; disks: Array<{file: string}>}) => void,
	) => {
		const file = path.join(folder, 'vm.json');
		const vm = JSON.parse(await readFile(file, 'utf8'));
		change(vm);
		await writeFile(file, JSON.stringify(vm));
	};
	await edit(lab.folder, vm => {
		vm.snapshots[0]!.description = `before${HOSTILE}after`;
	});
	const other = await labWithVm('h2');
	await edit(other.folder, vm => {
		vm.disks[0]!.file = `x${HOSTILE}.qcow2`;
	});
	await rename(other.folder, path.join(lab.root, 'h2'));
	return lab;
}

/** hostileLab's two VMs on the in-memory hypervisor: h1's snapshot description and h2's disk file name hold HOSTILE. */
export async function hostileMemoryLab() {
	const lab = memoryLab(['h1', 'h2']);
	await lab.take('s1');
	lab.hypervisor.editDefinition('h1', vm => {
		vm.snapshots[0]!.description = `before${HOSTILE}after`;
	});
	lab.hypervisor.editDefinition('h2', vm => {
		vm.disks[0]!.file = `x${HOSTILE}.qcow2`;
	});
	return lab;
}
