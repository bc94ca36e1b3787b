import path from 'node:path';
import {describe, expect, it} from 'vitest';
import {sessionPorts} from '../../source/service/session-ports.js';
import {tempDir} from '../helpers/lab.js';
import {MemoryHypervisor} from '../helpers/memory-hypervisor.js';

describe("a session's ports, joined from their modules", () => {
	it('show the repository once it is found after the session opened (the UI finds it in the configuration on first use)', async () => {
		const hypervisor = new MemoryHypervisor();
		hypervisor.addVm('vm1', ['vda'], 16);
		const dir = path.join(await tempDir(), 'repo');
		const service = sessionPorts(hypervisor, {findRepository: async () => dir});
		expect(service.repository).toBeNull();
		await service.list();
		// What the UI reads before it offers a backup, and where it says the VM's backups are.
		expect(service.repository?.root).toBe(dir);
		expect(service.repository?.vmDir('vm1')).toContain(dir);
		expect(service.connection.uri).toBe(hypervisor.uri);
	});
});
