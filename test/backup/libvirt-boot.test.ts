import {copyFile, readFile, writeFile} from 'node:fs/promises';
import path from 'node:path';
import {execa} from 'execa';
import {afterEach, describe, expect, it} from 'vitest';
import {LibvirtHypervisor} from '../../source/adapters/libvirt/libvirt-hypervisor.js';
import {Service} from '../../source/service/service.js';
import {guestImage} from '../helpers/guest.js';
import {qemuImg, tempDir} from '../helpers/lab.js';

const URI = 'qemu:///system';
const virsh = (...args: string[]) => execa('virsh', ['-c', URI, ...args], {reject: false});
const defined: string[] = [];
afterEach(async () => {
	for (const name of defined.splice(0)) {
		await virsh('destroy', '--domain', name);
		await virsh('undefine', '--domain', name, '--snapshots-metadata', '--checkpoints-metadata');
	}
});

describe('verify --boot on libvirt, with the real Linux guest', () => {
	it("boots a point of a libvirt domain as a transient domain on this host's libvirtd: the agent answers, the evidence is kept, no domain is left", async () => {
		const image = guestImage();
		const dir = await tempDir();
		for (const file of ['vmlinuz', 'initrd']) await copyFile(path.join(image, file), path.join(dir, file));
		const disk = path.join(dir, 'disk.qcow2');
		await qemuImg.convert(path.join(image, 'root.qcow2'), disk);
		const name = `sdt-boot-${process.pid}`;
		// Software emulation (type 'qemu'): a stock kernel hangs under this machine's kvm-pvm.
		const xml = `<domain type='qemu'><name>${name}</name><memory unit='MiB'>256</memory>
<os><type arch='x86_64' machine='q35'>hvm</type><kernel>${dir}/vmlinuz</kernel><initrd>${dir}/initrd</initrd><cmdline>console=tty0 console=ttyS0 panic=-1</cmdline></os>
<devices><disk type='file' device='disk'><driver name='qemu' type='qcow2'/><source file='${disk}'/><target dev='vda' bus='virtio'/></disk>
<interface type='user'><model type='virtio'/></interface><serial type='pty'/></devices></domain>`;
		const xmlFile = path.join(dir, 'domain.xml');
		await writeFile(xmlFile, xml);
		defined.push(name);
		expect((await virsh('define', '--file', xmlFile)).exitCode).toBe(0);
		const repo = await tempDir();
		const service = new Service(new LibvirtHypervisor(URI), repo);
		const point = await service.backup(name, {mode: 'full', command: 'test'});
		const result = await service.bootTest(name, {point: point.id, command: 'test'});
		expect(result.ok, result.message).toBe(true);
		expect(result.message).toMatch(/the guest agent answered after \d+\.\d s/);
		expect(await readFile(path.join(repo, name, result.console), 'utf8')).toContain('snapdeck-guest: up');
		expect((await readFile(path.join(repo, name, result.screenshot!))).subarray(1, 4).toString()).toBe('PNG');
		// The throwaway domain is gone; the domain itself was never started.
		expect((await virsh('list', '--all', '--name')).stdout).not.toContain('boottest');
		expect((await virsh('domstate', '--domain', name)).stdout.trim()).toBe('shut off');
	}, 180_000);
});
