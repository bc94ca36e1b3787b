import {sessionPorts} from '../../source/service/session-ports.js';
import {MemoryHypervisor} from '../helpers/memory-hypervisor.js';
import {hypervisorContract} from './hypervisor-contract.js';

/** The contract on the fast tier's in-memory hypervisor (no QEMU): what the real adapters pass in real.test.ts, it passes here. */
hypervisorContract(
	'in memory (the fast tier)',
	async () => {
		const memory = new MemoryHypervisor();
		memory.addVm('vm1', ['vda'], 32);
		return {
			service: sessionPorts(memory),
			hypervisor: memory,
			vm: 'vm1',
			write: async (pattern, mib) => memory.write('vm1', pattern, mib),
			reads: async (pattern, mib) => memory.read(memory.activeFile('vm1'), mib) === pattern,
			files: async () => [...memory.images.keys()].sort(),
		};
	},
	{internal: true},
);
