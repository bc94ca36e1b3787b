import path from 'node:path';
import {describe, expect, it} from 'vitest';
import {withDiskSources} from '../../source/adapters/libvirt/domain-edit.js';
import {parseDomainXml} from '../../source/adapters/libvirt/xml.js';
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
});
