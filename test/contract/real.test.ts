import {readdir} from 'node:fs/promises';
import {labWithVm, MiB, qemuIo} from '../helpers/lab.js';
import {libvirtDomain} from '../helpers/libvirt.js';
import {hypervisorContract} from './hypervisor-contract.js';

/** The files under `dir`, the lock's state folder (.snapdeck) aside. */
const filesUnder = async (dir: string) =>
	(await readdir(dir, {recursive: true})).filter(file => !file.split('/').includes('.snapdeck')).sort();

/** The contract on the real adapters: qemu-img on a local lab, and libvirtd (the full tier). */
hypervisorContract(
	'local (qemu-img)',
	async () => {
		const lab = await labWithVm('vm1', ['vda'], 32);
		return {
			service: lab.service,
			hypervisor: lab.hypervisor,
			vm: 'vm1',
			write: async (pattern, mib) => qemuIo.write(await lab.activeFile(), pattern, mib * MiB, MiB),
			reads: async (pattern, mib) => qemuIo.holds(await lab.activeFile(), pattern, mib * MiB, MiB),
			files: () => filesUnder(lab.root),
		};
	},
	{internal: true},
);

hypervisorContract(
	'libvirt (a stopped domain)',
	async () => {
		const domain = await libvirtDomain({running: false, sizeMiB: 32});
		return {
			service: domain.service,
			hypervisor: domain.hypervisor,
			vm: domain.name,
			write: async (pattern, mib) => qemuIo.write(await domain.activeFile(), pattern, mib * MiB, MiB),
			reads: async (pattern, mib) => qemuIo.holds(await domain.activeFile(), pattern, mib * MiB, MiB),
			files: () => filesUnder(domain.dir),
		};
	},
	{internal: false},
);
