import {sessionPorts, type SessionOptions} from '../../source/service/session-ports.js';
import {MemoryHypervisor} from './memory-hypervisor.js';

/**
 * labWithVm (lab.ts) on the in-memory hypervisor: the same VMs, writes, reads and actions, with no
 * qemu-img and no files, for the unit tier's UI and service tests. What it may stand in for is what
 * test/contract/ checks on both it and the real adapters; a test of real images stays on lab.ts.
 */
export function memoryLab(
	names: string | readonly string[] = 'vm1',
	options: {targets?: readonly string[]; sizeMiB?: number; service?: SessionOptions; connection?: string} = {},
) {
	const all = typeof names === 'string' ? [names] : names;
	const name = all[0]!;
	const hypervisor = new MemoryHypervisor(options.connection);
	for (const vm of all) hypervisor.addVm(vm, options.targets ?? ['vda'], options.sizeMiB ?? 64);
	const service = sessionPorts(hypervisor, options.service);
	const yes = {command: 'test', confirm: async () => true};
	return {
		hypervisor,
		service,
		/** The VM's definition now (its disks, snapshots and current one), as lab.vmFile() reads vm.json. */
		definition: (vm = name) => hypervisor.definitionOf(vm),
		/** Writes `pattern` over 1 MiB at `mib` MiB of the guest disk, as the guest would. */
		write: async (pattern: number, mib: number, target = 'vda') => hypervisor.write(name, pattern, mib, target),
		/** Whether the guest reads `pattern` there now. */
		reads: async (pattern: number, mib: number, target = 'vda') =>
			hypervisor.read(hypervisor.activeFile(name, target), mib) === pattern,
		take: (snapshot: string, kind: 'external' | 'internal' = 'external') =>
			service.perform({kind: 'take', vm: name, request: {name: snapshot, kind, now: new Date()}}, yes),
		revert: (snapshot: string) => service.perform({kind: 'revert', vm: name, snapshot}, yes),
		merge: (snapshot: string) => service.perform({kind: 'merge', vm: name, snapshot}, yes),
	};
}
