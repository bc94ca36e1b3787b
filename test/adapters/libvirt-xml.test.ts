import path from 'node:path';
import {describe, expect, it} from 'vitest';
import {asThrowawayDomain, withDiskSources} from '../../source/adapters/libvirt/domain-edit.js';
import {diskChain, domainBootFiles, parseDomainXml, parseSnapshotXml, pullSocket, qemuOwner} from '../../source/adapters/libvirt/xml.js';
import {qemuImg, tempDir} from '../helpers/lab.js';
import {libvirtDomain, virsh} from '../helpers/libvirt.js';

describe("libvirt's XML", () => {
	it('a domain pointed at a new image keeps everything else, and libvirt accepts it', async () => {
		const domain = await libvirtDomain({running: false});
		const before = (await virsh('dumpxml', '--domain', domain.name, '--inactive')).stdout;
		const dir = await tempDir();
		const next = path.join(dir, "new 'image'.qcow2");
		await qemuImg.create(next, {size: 1 << 20});
		const edited = withDiskSources(before, new Map([['vda', next]]));
		const file = path.join(dir, 'edited.xml');
		const {writeFile} = await import('node:fs/promises');
		await writeFile(file, edited);
		await virsh('define', '--file', file);
		const after = (await virsh('dumpxml', '--domain', domain.name, '--inactive')).stdout;
		expect(parseDomainXml(after)).toEqual({...parseDomainXml(before), disks: [{target: 'vda', file: next}]});
		expect(after.replace(/<source file=[^>]*>/, '')).toBe(before.replace(/<source file=[^>]*>/, ''));
	});

	it('refuses to edit a disk the domain does not have', async () => {
		const domain = await libvirtDomain({running: false});
		const xml = (await virsh('dumpxml', '--domain', domain.name, '--inactive')).stdout;
		expect(() => withDiskSources(xml, new Map([['vdz', '/x.qcow2']]))).toThrow("libvirt's XML has no disk vdz");
	});

	it("a boot test's throwaway copy has no network, no UUID, its own console and agent sockets, and is destroyed rather than restarted", () => {
		const xml = `<domain type='qemu'><name>web</name><uuid>0b0c5e8e-4c1f-4d53-9a1d-6a8b1c2d3e4f</uuid><memory unit='MiB'>256</memory><on_reboot>restart</on_reboot>
<devices><disk type='file' device='disk'><driver name='qemu' type='qcow2'/><source file='/var/lib/vm/web.qcow2'/><target dev='vda' bus='virtio'/></disk>
<interface type='network'><mac address='52:54:00:11:22:33'/><source network='default'/></interface><serial type='pty'/>
<channel type='unix'><source mode='bind' path='/var/lib/libvirt/qemu/channel/target/web.agent'/><target type='virtio' name='org.qemu.guest_agent.0'/></channel></devices></domain>`;
		const copy = asThrowawayDomain(xml, 'web-boottest', new Map([['vda', '/repo/web/.snapdeck/boot-work-1/vda.qcow2']]), {console: '/repo/console.log'});
		expect(copy).not.toMatch(/<interface|<uuid|52:54:00:11:22:33|channel\/target\/web\.agent|restart/);
		expect(copy).toContain("<source file=\"/repo/web/.snapdeck/boot-work-1/vda.qcow2\"");
		expect(copy).toMatch(/<serial type="file">\s*<source path="\/repo\/console.log"/);
		// An agent channel of its own, whose socket libvirt places and talks to.
		expect(copy).toMatch(/<channel type="unix">\s*<target type="virtio" name="org.qemu.guest_agent.0"/);
		for (const event of ['on_poweroff', 'on_reboot', 'on_crash']) expect(copy).toContain(`<${event}>destroy</${event}>`);
	});

	it("tells the user QEMU runs as from a running domain's live XML, and nothing from a label it cannot read as numbers", async () => {
		const domain = await libvirtDomain();
		const live = (await virsh('dumpxml', '--domain', domain.name)).stdout;
		// This machine's libvirt runs QEMU as root (qemu.conf); a Debian default is libvirt-qemu (+64055:+108).
		expect(qemuOwner(live)).toEqual({uid: 0, gid: 0});
		const labels = (dac: string) => `<domain><name>d</name><seclabel type='dynamic' model='apparmor' relabel='yes'><label>libvirt-x</label></seclabel><seclabel type='dynamic' model='dac' relabel='yes'><label>${dac}</label></seclabel></domain>`;
		expect(qemuOwner(labels('+64055:+108'))).toEqual({uid: 64055, gid: 108});
		for (const hostile of ['libvirt-qemu:kvm', '+1:+2;rm', '+-1:+0', '+99999999999:+0', '']) expect(qemuOwner(labels(hostile))).toBeNull();
		expect(qemuOwner('<domain><name>d</name></domain>')).toBeNull();
	});

	it("reads the socket of a pull-mode backup job, and none of a push-mode one", () => {
		expect(pullSocket("<domainbackup mode='pull'>\n  <server transport='unix' socket='/tmp/snapdeck-nbd-x/nbd.sock'/>\n  <disks/></domainbackup>")).toBe('/tmp/snapdeck-nbd-x/nbd.sock');
		expect(pullSocket("<domainbackup mode='push'><disks/></domainbackup>")).toBeNull();
		expect(pullSocket("<domainbackup mode='pull'><server transport='tcp' name='localhost' port='10809'/></domainbackup>")).toBeNull();
		expect(pullSocket('')).toBeNull();
	});

	it('reads the disks of a running domain and of each snapshot as libvirt writes them, past backing chains nested a layer each (left unparsed)', async () => {
		const domain = await libvirtDomain({running: true});
		const files = ['one', 'two', 'three'].map(name => path.join(domain.dir, `${name}.qcow2`));
		for (const [index, file] of files.entries()) {
			await virsh('snapshot-create-as', '--domain', domain.name, '--name', `s${index}`, '--disk-only', '--atomic', '--diskspec', `vda,snapshot=external,file=${file}`);
		}
		const live = (await virsh('dumpxml', '--domain', domain.name)).stdout;
		expect((live.match(/<backingStore/g) ?? []).length).toBeGreaterThanOrEqual(3);
		expect(parseDomainXml(live)).toMatchObject({name: domain.name, disks: [{target: 'vda', file: files[2]}]});
		// The chain itself is still read whole where it is needed.
		expect(diskChain(live, 'vda')).toEqual([...files].reverse().concat(domain.image));
		// A snapshot's domain is the domain as it was: its disk is the image the snapshot keeps.
		for (const [index, file] of [domain.image, ...files.slice(0, 2)].entries()) {
			const snapshot = parseSnapshotXml((await virsh('snapshot-dumpxml', '--domain', domain.name, '--snapshotname', `s${index}`)).stdout);
			expect(snapshot).toMatchObject({name: `s${index}`, kind: 'external', parent: index === 0 ? null : `s${index - 1}`, disks: [{target: 'vda', file}]});
		}
	});
});

describe('what a domain boots besides its disks', () => {
	const uefi = `<domain type='kvm'><name>web</name><uuid>5f1c7c3e-0000-4000-8000-000000000001</uuid><os><type arch='x86_64' machine='q35'>hvm</type><loader readonly='yes' type='pflash'>/usr/share/OVMF/OVMF_CODE.fd</loader><nvram>/var/lib/libvirt/qemu/nvram/web_VARS.fd</nvram><kernel>/boot/vmlinuz-web</kernel><initrd>/boot/initrd-web</initrd></os><devices><disk type='file' device='disk'><source file='/images/web.qcow2'/><target dev='vda' bus='virtio'/></disk></devices></domain>`;

	it('reads the kernel, initramfs and UEFI variables <os> names (the firmware itself is the host\'s, not the domain\'s)', () => {
		expect(domainBootFiles(uefi)).toEqual([
			{role: 'kernel', path: '/boot/vmlinuz-web'}, {role: 'initrd', path: '/boot/initrd-web'}, {role: 'nvram', path: '/var/lib/libvirt/qemu/nvram/web_VARS.fd'},
		]);
		expect(domainBootFiles(uefi.replace(/<nvram>.*<\/initrd>/, ''))).toEqual([]);
	});

	it('a throwaway copy boots the point\'s copies, and never writes the live domain\'s UEFI variables', () => {
		const copy = asThrowawayDomain(uefi, 'web-boottest-x', new Map([['vda', '/repo/work/vda.qcow2']]), {console: '/repo/work/console.log'}, new Map([['/boot/vmlinuz-web', '/repo/web/boot/P/kernel'], ['/boot/initrd-web', '/repo/web/boot/P/initrd'], ['/var/lib/libvirt/qemu/nvram/web_VARS.fd', '']]));
		expect(copy).toContain('<kernel>/repo/web/boot/P/kernel</kernel>');
		expect(copy).toContain('<initrd>/repo/web/boot/P/initrd</initrd>');
		expect(copy).not.toContain('nvram');
		expect(copy).not.toContain('/boot/vmlinuz-web');
	});
});
