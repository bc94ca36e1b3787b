import path from 'node:path';
import {describe, expect, it} from 'vitest';
import {withDiskSources} from '../../source/adapters/libvirt/domain-edit.js';
import {diskChain, parseDomainXml, parseSnapshotXml, qemuOwner} from '../../source/adapters/libvirt/xml.js';
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

	it("tells the user QEMU runs as from a running domain's live XML, and nothing from a label it cannot read as numbers", async () => {
		const domain = await libvirtDomain();
		const live = (await virsh('dumpxml', '--domain', domain.name)).stdout;
		// This machine's libvirt runs QEMU as root (qemu.conf); a Debian default is libvirt-qemu (+64055:+108).
		expect(qemuOwner(live)).toEqual({uid: 0, gid: 0});
		const labels = (dac: string) =>
			`<domain><name>d</name><seclabel type='dynamic' model='apparmor' relabel='yes'><label>libvirt-x</label></seclabel><seclabel type='dynamic' model='dac' relabel='yes'><label>${dac}</label></seclabel></domain>`;
		expect(qemuOwner(labels('+64055:+108'))).toEqual({uid: 64055, gid: 108});
		for (const hostile of ['libvirt-qemu:kvm', '+1:+2;rm', '+-1:+0', '+99999999999:+0', ''])
			expect(qemuOwner(labels(hostile))).toBeNull();
		expect(qemuOwner('<domain><name>d</name></domain>')).toBeNull();
	});

	it('reads the disks of a running domain and of each snapshot as libvirt writes them, past backing chains nested a layer each (left unparsed)', async () => {
		const domain = await libvirtDomain({running: true});
		const files = ['one', 'two', 'three'].map(name => path.join(domain.dir, `${name}.qcow2`));
		for (const [index, file] of files.entries()) {
			await virsh(
				'snapshot-create-as',
				'--domain',
				domain.name,
				'--name',
				`s${index}`,
				'--disk-only',
				'--atomic',
				'--diskspec',
				`vda,snapshot=external,file=${file}`,
			);
		}
		const live = (await virsh('dumpxml', '--domain', domain.name)).stdout;
		expect((live.match(/<backingStore/g) ?? []).length).toBeGreaterThanOrEqual(3);
		expect(parseDomainXml(live)).toMatchObject({name: domain.name, disks: [{target: 'vda', file: files[2]}]});
		// The chain itself is still read whole where it is needed.
		expect(diskChain(live, 'vda')).toEqual([...files].reverse().concat(domain.image));
		// A snapshot's domain is the domain as it was: its disk is the image the snapshot keeps.
		for (const [index, file] of [domain.image, ...files.slice(0, 2)].entries()) {
			const snapshot = parseSnapshotXml(
				(await virsh('snapshot-dumpxml', '--domain', domain.name, '--snapshotname', `s${index}`)).stdout,
			);
			expect(snapshot).toMatchObject({
				name: `s${index}`,
				kind: 'external',
				parent: index === 0 ? null : `s${index - 1}`,
				disks: [{target: 'vda', file}],
			});
		}
	});
});
