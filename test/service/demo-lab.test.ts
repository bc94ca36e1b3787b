import path from 'node:path';
import {describe, expect, it} from 'vitest';
import {LocalHypervisor} from '../../source/adapters/local/local-hypervisor.js';
import {buildDemoLab, DEMO_VMS, expectedData, REGION, type DiskData} from '../../source/service/demo-lab.js';
import {sessionPorts} from '../../source/service/session-ports.js';
import {qemuIo, tempDir} from '../helpers/lab.js';

/** Every region the script touched, plus one it never did, reads what `data` says (0 = never written). */
async function assertGuestReads(hypervisor: LocalHypervisor, vm: string, folder: string, data: DiskData) {
	const {state} = await hypervisor.inspect(vm);
	for (const disk of state.definition.disks) {
		const regions = data[disk.target]!;
		for (const region of [...Object.keys(regions).map(Number), 7]) {
			const pattern = regions[region] ?? 0;
			const holds = await qemuIo.holds(path.join(folder, disk.file), pattern, region * REGION, REGION);
			expect(holds, `${vm} ${disk.target} region ${region} should read 0x${pattern.toString(16)}`).toBe(true);
		}
	}
}

describe('the demo lab', () => {
	it('has the promised shapes: a branched external chain 3+ deep, internal snapshots, two disks', async () => {
		const dir = path.join(await tempDir(), 'lab');
		expect(await buildDemoLab(dir)).toEqual({dir, created: true});
		expect(await buildDemoLab(dir)).toEqual({dir, created: false});
		const vms = await new LocalHypervisor(dir).list();
		const web1 = vms.find(vm => vm.name === 'web1')!;
		expect(web1.chainDepth).toBeGreaterThanOrEqual(3);
		expect(vms.find(vm => vm.name === 'db1')!.snapshots).toBe(2);
		expect(vms.find(vm => vm.name === 'app1')!.disks).toHaveLength(2);
		expect(vms.every(vm => vm.error === null)).toBe(true);
		// Its history is of the days before it was built, whenever that is: no snapshot is too old at first.
		const health = await sessionPorts(new LocalHypervisor(dir)).health({now: new Date()});
		expect(health.flatMap(vm => vm.findings.map(finding => finding.rule))).not.toContain('snapshot-age');
		const tree = await sessionPorts(new LocalHypervisor(dir)).tree('web1');
		const times = tree.rows.map(row => Date.parse(row.node.snapshot.createdAt));
		expect(Math.min(...times)).toBeGreaterThan(Date.now() - 7 * 86_400_000);
		expect(Math.max(...times)).toBeLessThan(Date.now());
	});

	it("holds each snapshot's own data pattern: reverting to any of them brings exactly that data back", async () => {
		const dir = path.join(await tempDir(), 'lab');
		await buildDemoLab(dir);
		const hypervisor = new LocalHypervisor(dir);
		const service = sessionPorts(hypervisor);
		for (const vm of DEMO_VMS) {
			const expected = expectedData(vm);
			const folder = path.join(dir, vm.name);
			await assertGuestReads(hypervisor, vm.name, folder, expected.now);
			for (const [snapshot, data] of Object.entries(expected.snapshots)) {
				await service.perform({kind: 'revert', vm: vm.name, snapshot}, {command: 'test', confirm: async () => true});
				await assertGuestReads(hypervisor, vm.name, folder, data);
			}
		}
	});
});
