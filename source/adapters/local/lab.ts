import type {QemuImg} from '../qemu/qemu-img.js';

/**
 * One local lab as the adapter's role modules (inventory rows, restores, instant restores) use it:
 * LocalHypervisor hands them this, and keeps its qemu-img its own.
 */
export interface LocalLab {
	/** The lab's folder: each VM is a folder in it. */
	readonly root: string;
	readonly uri: string;
	readonly qemuImg: QemuImg;
	/** The VM's folder; refuses a VM that is not there, naming those that are. */
	folderOf(vm: string): Promise<string>;
}
