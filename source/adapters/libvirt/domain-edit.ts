import {XMLBuilder, XMLParser} from 'fast-xml-parser';
import {SnapdeckError} from '../../core/errors.js';

type OrderedNode = Record<string, unknown> & {':@'?: Record<string, string>};
const options = {
	ignoreAttributes: false,
	attributeNamePrefix: '@',
	preserveOrder: true,
	commentPropName: '#comment',
	format: true,
	suppressEmptyNode: true,
} as const;

const childrenOf = (node: OrderedNode, tag: string) => (node[tag] as OrderedNode[] | undefined) ?? [];

/**
 * A domain's XML with some disks pointed at new images: each named target's `<source file>` set,
 * and its `<backingStore>` dropped (libvirt reads the chain from the new image itself). Everything
 * else is kept as it was, in order.
 */
export function withDiskSources(xml: string, sources: ReadonlyMap<string, string>): string {
	const document = new XMLParser(options).parse(xml) as OrderedNode[];
	const domain = document.find(node => 'domain' in node);
	if (!domain) throw new SnapdeckError('failed', 'libvirt returned a domain XML without <domain>');
	const devices = childrenOf(domain, 'domain').find(node => 'devices' in node);
	const disks = devices ? childrenOf(devices, 'devices').filter(node => 'disk' in node) : [];
	const seen = new Set<string>();
	for (const disk of disks) {
		const parts = childrenOf(disk, 'disk');
		const target = parts.find(node => 'target' in node)?.[':@']?.['@dev'];
		const file = target === undefined ? undefined : sources.get(target);
		if (file === undefined) continue;
		const source = parts.find(node => 'source' in node);
		if (!source?.[':@']) throw new SnapdeckError('failed', `disk ${target} in libvirt's XML has no <source file>`);
		source[':@']['@file'] = file;
		disk['disk'] = parts.filter(node => !('backingStore' in node));
		seen.add(target!);
	}
	const missing = [...sources.keys()].filter(target => !seen.has(target));
	if (missing.length > 0) throw new SnapdeckError('failed', `libvirt's XML has no disk ${missing.join(', ')}`);
	return new XMLBuilder(options).build(document) as string;
}

/**
 * A snapshot's XML with its external disks' overlays set to `sources` (by target), for
 * `snapshot-create --redefine`: after snapdeck reverts to an external snapshot by hand, libvirt's
 * record of it then names the image the domain now runs on, so libvirt and snapdeck agree.
 */
export function withSnapshotOverlays(xml: string, sources: ReadonlyMap<string, string>): string {
	const document = new XMLParser(options).parse(xml) as OrderedNode[];
	const snapshot = document.find(node => 'domainsnapshot' in node);
	if (!snapshot) throw new SnapdeckError('failed', 'libvirt returned a snapshot XML without <domainsnapshot>');
	const disks = childrenOf(snapshot, 'domainsnapshot').find(node => 'disks' in node);
	for (const disk of disks ? childrenOf(disks, 'disks').filter(node => 'disk' in node) : []) {
		const file = sources.get(disk[':@']?.['@name'] ?? '');
		const source = childrenOf(disk, 'disk').find(node => 'source' in node);
		if (file !== undefined && disk[':@']?.['@snapshot'] === 'external' && source?.[':@']) source[':@']['@file'] = file;
	}
	return new XMLBuilder(options).build(document) as string;
}

/**
 * A snapshot's XML with the image files of its saved domain renamed (`renames`: old -> new path),
 * for `snapshot-create --redefine` after a merge committed an image down into its backing file:
 * the snapshots that froze the old file now find their data in the new one.
 */
export function withSnapshotDomainImages(xml: string, renames: ReadonlyMap<string, string>): string {
	const document = new XMLParser(options).parse(xml) as OrderedNode[];
	const snapshot = document.find(node => 'domainsnapshot' in node);
	const domain = snapshot ? childrenOf(snapshot, 'domainsnapshot').find(node => 'domain' in node) : undefined;
	if (!domain) throw new SnapdeckError('failed', 'libvirt returned a snapshot XML without its <domain>');
	const devices = childrenOf(domain, 'domain').find(node => 'devices' in node);
	for (const disk of devices ? childrenOf(devices, 'devices').filter(node => 'disk' in node) : []) {
		const source = childrenOf(disk, 'disk').find(node => 'source' in node);
		const renamed = renames.get(source?.[':@']?.['@file'] ?? '');
		if (renamed !== undefined && source?.[':@']) {
			source[':@']['@file'] = renamed;
			disk['disk'] = childrenOf(disk, 'disk').filter(node => !('backingStore' in node));
		}
	}
	return new XMLBuilder(options).build(document) as string;
}

/**
 * A snapshot's XML for a copy of its domain (`snapshot-create --redefine` on the domain restored
 * from a whole-VM archive): every image path renamed (`renames`: old -> new), in the snapshot's
 * disks and in its saved domain, whose name and UUID become the copy's and whose MAC addresses go
 * (libvirt's redefine wants the domain's own UUID).
 */
export function asRestoredSnapshot(
	xml: string,
	name: string,
	uuid: string,
	renames: ReadonlyMap<string, string>,
): string {
	const document = new XMLParser(options).parse(withSnapshotDomainImages(xml, renames)) as OrderedNode[];
	const snapshot = document.find(node => 'domainsnapshot' in node)!;
	const parts = childrenOf(snapshot, 'domainsnapshot');
	const disks = parts.find(node => 'disks' in node);
	for (const disk of disks ? childrenOf(disks, 'disks').filter(node => 'disk' in node) : []) {
		const source = childrenOf(disk, 'disk').find(node => 'source' in node);
		const renamed = renames.get(source?.[':@']?.['@file'] ?? '');
		if (renamed !== undefined && source?.[':@']) source[':@']['@file'] = renamed;
	}
	const domain = parts.find(node => 'domain' in node)!;
	domain['domain'] = childrenOf(domain, 'domain').map(node =>
		'uuid' in node ? {uuid: [{'#text': uuid}]} : 'name' in node ? {name: [{'#text': name}]} : node,
	);
	for (const devices of childrenOf(domain, 'domain').filter(node => 'devices' in node)) {
		for (const device of childrenOf(devices, 'devices').filter(node => 'interface' in node)) {
			device['interface'] = childrenOf(device, 'interface').filter(node => !('mac' in node));
		}
	}
	return new XMLBuilder(options).build(document) as string;
}

/**
 * A copy of a domain's definition as a new domain: another name, no UUID and no MAC addresses
 * (libvirt makes new ones, so the copy never clashes with the original), disks on `sources`.
 */
export function asNewDomain(xml: string, name: string, sources: ReadonlyMap<string, string>): string {
	const document = new XMLParser(options).parse(withDiskSources(xml, sources)) as OrderedNode[];
	const domain = document.find(node => 'domain' in node)!;
	const parts = childrenOf(domain, 'domain').filter(node => !('uuid' in node));
	const nameNode = parts.find(node => 'name' in node);
	if (!nameNode) throw new SnapdeckError('failed', 'the recorded domain XML has no <name>');
	nameNode['name'] = [{'#text': name}];
	for (const devices of parts.filter(node => 'devices' in node)) {
		for (const device of childrenOf(devices, 'devices').filter(node => 'interface' in node)) {
			device['interface'] = childrenOf(device, 'interface').filter(node => !('mac' in node));
		}
	}
	domain['domain'] = parts;
	return new XMLBuilder(options).build(document) as string;
}

/**
 * A throwaway copy of a domain for a boot test, as a transient domain: another name, no UUID, no
 * network interfaces, disks on `sources`, its serial console written to `console`, a guest
 * agent channel of its own (libvirt talks to the agent on it), a VGA display for a screenshot, and destroyed
 * (never restarted) when the guest powers off, reboots or crashes.
 */
export function asThrowawayDomain(
	xml: string,
	name: string,
	sources: ReadonlyMap<string, string>,
	files: {console: string},
	bootFiles: ReadonlyMap<string, string> = new Map(),
): string {
	const document = new XMLParser(options).parse(
		withBootFiles(asNewDomain(xml, name, sources), bootFiles),
	) as OrderedNode[];
	const domain = document.find(node => 'domain' in node)!;
	const lifecycle = new Set(['on_poweroff', 'on_reboot', 'on_crash']);
	const parts = childrenOf(domain, 'domain').filter(node => !Object.keys(node).some(key => lifecycle.has(key)));
	for (const event of lifecycle) parts.push({[event]: [{'#text': 'destroy'}]});
	for (const devices of parts.filter(node => 'devices' in node)) {
		const kept = childrenOf(devices, 'devices').filter(
			node => !['interface', 'serial', 'console', 'channel', 'video', 'graphics'].some(tag => tag in node),
		);
		kept.push(
			{
				serial: [
					{source: [], ':@': {'@path': files.console}},
					{target: [], ':@': {'@port': '0'}},
				],
				':@': {'@type': 'file'},
			},
			{channel: [{target: [], ':@': {'@type': 'virtio', '@name': 'org.qemu.guest_agent.0'}}], ':@': {'@type': 'unix'}},
			{video: [{model: [], ':@': {'@type': 'vga'}}]},
		);
		devices['devices'] = kept;
	}
	domain['domain'] = parts;
	return new XMLBuilder({...options, suppressEmptyNode: true}).build(document) as string;
}

/** A domain's XML with the files <os> names (<kernel>, <initrd>, <nvram>) replaced as `files` says (old path -> new; '' drops the element). */
export function withBootFiles(xml: string, files: ReadonlyMap<string, string>): string {
	if (files.size === 0) return xml;
	const document = new XMLParser(options).parse(xml) as OrderedNode[];
	const domain = document.find(node => 'domain' in node);
	const os = domain ? childrenOf(domain, 'domain').find(node => 'os' in node) : undefined;
	const dropped = new Set<OrderedNode>();
	for (const part of os ? childrenOf(os, 'os') : []) {
		for (const role of ['kernel', 'initrd', 'nvram']) {
			if (!(role in part)) continue;
			const text = childrenOf(part, role).find(node => '#text' in node);
			const replaced = files.get(String(text?.['#text'] ?? '').trim());
			if (text && replaced === '') dropped.add(part);
			else if (text && replaced !== undefined) text['#text'] = replaced;
		}
	}
	if (os) os['os'] = childrenOf(os, 'os').filter(part => !dropped.has(part));
	return new XMLBuilder(options).build(document) as string;
}
