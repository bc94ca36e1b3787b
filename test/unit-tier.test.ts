import {execa} from 'execa';
import {describe, expect, it} from 'vitest';

/**
 * The unit tier's promise (vitest.config.ts, test/helpers/unit-setup.ts): its tests run with no
 * QEMU, libvirt or restic on PATH, so none of them can lean on one without failing here first.
 */
describe('the unit tier', () => {
	it.each([
		'qemu-img',
		'qemu-io',
		'qemu-system-x86_64',
		'virsh',
		'libvirtd',
		'restic',
		'rclone',
		'guestfish',
		'virt-customize',
	])('finds no %s on PATH', async tool => {
		const found = await execa('sh', ['-c', `command -v ${tool}`], {reject: false});
		expect(found.exitCode, `${tool} is at ${found.stdout}`).not.toBe(0);
	});

	it('still finds the ordinary commands tests use', async () => {
		const found = await execa('sh', ['-c', 'command -v git && command -v sh'], {reject: false});
		expect(found.exitCode).toBe(0);
	});
});
