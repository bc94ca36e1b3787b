import type {Host} from '../host.js';
import type {Inspection} from '../hypervisor.js';
import type {QemuImg} from '../qemu/qemu-img.js';
import type {Virsh} from './virsh.js';

/**
 * One libvirt connection as the adapter's role modules (boot tests, restores, archives, instant
 * restores) use it: LibvirtHypervisor hands them this, and keeps its virsh and qemu-img its own.
 */
export interface LibvirtConnection {
	readonly uri: string;
	readonly virsh: Virsh;
	/** qemu-img on `host`. */
	readonly qemuImg: QemuImg;
	/** Where the domains' images are, for what snapdeck does to them itself (qemu-img, files). */
	readonly host: Host;
	domainNames(): Promise<string[]>;
	inspect(vm: string): Promise<Inspection>;
	/** Where snapdeck keeps a domain's lock, pending operation and journal (libvirt keeps the rest). */
	folderOf(vm: string): string;
}
