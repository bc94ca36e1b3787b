import {describe, expect, it} from 'vitest';
import {asThrowawayDomain} from '../../source/adapters/libvirt/domain-edit.js';
import {domainBootFiles, pullSocket} from '../../source/adapters/libvirt/xml.js';

/** libvirt's XML as snapdeck reads and writes it, without libvirtd (libvirt-xml.test.ts has what libvirt itself must accept). */
describe("libvirt's XML, parsed and edited", () => {
	it("a boot test's throwaway copy has no network, no UUID, its own console and agent sockets, and is destroyed rather than restarted", () => {
		const xml = `<domain type='qemu'><name>web</name><uuid>0b0c5e8e-4c1f-4d53-9a1d-6a8b1c2d3e4f</uuid><memory unit='MiB'>256</memory><on_reboot>restart</on_reboot>
<devices><disk type='file' device='disk'><driver name='qemu' type='qcow2'/><source file='/var/lib/vm/web.qcow2'/><target dev='vda' bus='virtio'/></disk>
<interface type='network'><mac address='52:54:00:11:22:33'/><source network='default'/></interface><serial type='pty'/>
<channel type='unix'><source mode='bind' path='/var/lib/libvirt/qemu/channel/target/web.agent'/><target type='virtio' name='org.qemu.guest_agent.0'/></channel></devices></domain>`;
		const copy = asThrowawayDomain(
			xml,
			'web-boottest',
			new Map([['vda', '/repo/web/.snapdeck/boot-work-1/vda.qcow2']]),
			{console: '/repo/console.log'},
		);
		expect(copy).not.toMatch(/<interface|<uuid|52:54:00:11:22:33|channel\/target\/web\.agent|restart/);
		expect(copy).toContain('<source file="/repo/web/.snapdeck/boot-work-1/vda.qcow2"');
		expect(copy).toMatch(/<serial type="file">\s*<source path="\/repo\/console.log"/);
		// An agent channel of its own, whose socket libvirt places and talks to.
		expect(copy).toMatch(/<channel type="unix">\s*<target type="virtio" name="org.qemu.guest_agent.0"/);
		for (const event of ['on_poweroff', 'on_reboot', 'on_crash'])
			expect(copy).toContain(`<${event}>destroy</${event}>`);
	});

	it('reads the socket of a pull-mode backup job, and none of a push-mode one', () => {
		expect(
			pullSocket(
				"<domainbackup mode='pull'>\n  <server transport='unix' socket='/tmp/snapdeck-nbd-x/nbd.sock'/>\n  <disks/></domainbackup>",
			),
		).toBe('/tmp/snapdeck-nbd-x/nbd.sock');
		expect(pullSocket("<domainbackup mode='push'><disks/></domainbackup>")).toBeNull();
		expect(
			pullSocket("<domainbackup mode='pull'><server transport='tcp' name='localhost' port='10809'/></domainbackup>"),
		).toBeNull();
		expect(pullSocket('')).toBeNull();
	});
});

describe('what a domain boots besides its disks', () => {
	const uefi = `<domain type='kvm'><name>web</name><uuid>5f1c7c3e-0000-4000-8000-000000000001</uuid><os><type arch='x86_64' machine='q35'>hvm</type><loader readonly='yes' type='pflash'>/usr/share/OVMF/OVMF_CODE.fd</loader><nvram>/var/lib/libvirt/qemu/nvram/web_VARS.fd</nvram><kernel>/boot/vmlinuz-web</kernel><initrd>/boot/initrd-web</initrd></os><devices><disk type='file' device='disk'><source file='/images/web.qcow2'/><target dev='vda' bus='virtio'/></disk></devices></domain>`;

	it("reads the kernel, initramfs and UEFI variables <os> names (the firmware itself is the host's, not the domain's)", () => {
		expect(domainBootFiles(uefi)).toEqual([
			{role: 'kernel', path: '/boot/vmlinuz-web'},
			{role: 'initrd', path: '/boot/initrd-web'},
			{role: 'nvram', path: '/var/lib/libvirt/qemu/nvram/web_VARS.fd'},
		]);
		expect(domainBootFiles(uefi.replace(/<nvram>.*<\/initrd>/, ''))).toEqual([]);
	});

	it("a throwaway copy boots the point's copies, and never writes the live domain's UEFI variables", () => {
		const copy = asThrowawayDomain(
			uefi,
			'web-boottest-x',
			new Map([['vda', '/repo/work/vda.qcow2']]),
			{console: '/repo/work/console.log'},
			new Map([
				['/boot/vmlinuz-web', '/repo/web/boot/P/kernel'],
				['/boot/initrd-web', '/repo/web/boot/P/initrd'],
				['/var/lib/libvirt/qemu/nvram/web_VARS.fd', ''],
			]),
		);
		expect(copy).toContain('<kernel>/repo/web/boot/P/kernel</kernel>');
		expect(copy).toContain('<initrd>/repo/web/boot/P/initrd</initrd>');
		expect(copy).not.toContain('nvram');
		expect(copy).not.toContain('/boot/vmlinuz-web');
	});
});
