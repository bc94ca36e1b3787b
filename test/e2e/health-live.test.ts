import {describe, expect, it} from 'vitest';
import {Repository} from '../../source/backup/repository.js';
import {runBackup} from '../helpers/backup.js';
import type {Health} from '../../source/service/ports.js';
import {sessionPorts} from '../../source/service/session-ports.js';
import {tempDir} from '../helpers/lab.js';
import {libvirtDomain} from '../helpers/libvirt.js';
import {runningLab} from '../helpers/live.js';

const rulesOf = (health: Awaited<ReturnType<Health['health']>>) =>
	health.flatMap(vm => vm.findings.map(finding => finding.rule));

describe('health of running VMs reads what QEMU holds, not the image files from outside', () => {
	it('a local VM right after a live backup: its bitmap is in QEMU, so no bitmap-missing', async () => {
		const lab = await runningLab();
		await lab.guestWrite(0x11, 1);
		const repoDir = await tempDir();
		const service = sessionPorts(lab.hypervisor, {repository: repoDir});
		await runBackup(lab.hypervisor, new Repository(repoDir), 'live1', {mode: 'auto', command: 'test'});
		// The image file itself does not list it yet: QEMU writes persistent bitmaps when it stops.
		expect((await lab.hypervisor.inspect('live1')).state.images['vda.qcow2']!.bitmaps).toEqual([]);
		const health = await service.health({now: new Date()});
		expect(rulesOf(health)).not.toContain('bitmap-missing');
		expect(rulesOf(health)).not.toContain('image-corrupt');
	});

	it('a local VM whose merge job runs: its images are not checked from outside meanwhile', async () => {
		const lab = await runningLab();
		await lab.guestWrite(0x11, 8, 'vda', 64);
		await lab.take('s1');
		await lab.guestWrite(0x22, 100, 'vda', 96);
		const withQmp = async <T>(work: (client: Awaited<ReturnType<typeof lab.qmp>>) => Promise<T>) => {
			const client = await lab.qmp();
			try {
				return await work(client);
			} finally {
				client.close(); // QMP serves one client at a time: snapdeck must be able to connect
			}
		};
		// A slow stream job (1 MiB/s) into the active image, of the kind a merge runs.
		await withQmp(async client => {
			const blocks = await client.execute<Array<{inserted?: {'node-name': string}}>>('query-block');
			await client.execute('block-stream', {
				'job-id': 'other-tool-stream',
				device: blocks[0]!.inserted!['node-name'],
				speed: 1 << 20,
			});
		});
		try {
			const inspection = await lab.hypervisor.inspect('live1');
			expect(Object.keys(inspection.state.images).sort()).toEqual(['vda.qcow2', 'vda.s1.qcow2']);
			expect(await lab.hypervisor.checkImages(inspection)).toEqual([]);
		} finally {
			await withQmp(client => client.execute('block-job-cancel', {device: 'other-tool-stream', force: true}));
		}
		// With no job running, the images QEMU only reads are checked; the one it writes is not.
		const idle = await lab.hypervisor.checkImages(await lab.hypervisor.inspect('live1'));
		expect(idle.map(check => check.file)).toEqual(['vda.qcow2']);
	});

	it('a running libvirt domain right after a backup: its checkpoint is the bitmap, so no bitmap-missing', async () => {
		const dom = await libvirtDomain();
		await dom.guestWrite(0x33, 1);
		const repoDir = await tempDir();
		await runBackup(dom.hypervisor, new Repository(repoDir), dom.name, {mode: 'auto', command: 'test'});
		const health = await sessionPorts(dom.hypervisor, {repository: repoDir}).health({
			now: new Date(),
			only: [dom.name],
		});
		expect(rulesOf(health)).not.toContain('bitmap-missing');
		expect(rulesOf(health)).not.toContain('image-corrupt');
	});
});
