import {mkdtemp, rm} from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import {SnapdeckError} from '../../core/errors.js';
import {assertValidName} from '../../core/names.js';
import {localHost, type Host} from '../host.js';
import type {LibvirtConnection} from './connection.js';
import {asNewDomain, withBootFiles} from './domain-edit.js';
import {withXmlFile} from './xml-file.js';
import {domainBootFiles, parseDomainXml} from './xml.js';

/**
 * A new domain from a backup: the recorded definition under a new name, UUID and MAC addresses,
 * its disks restored beside the original domain's images as NAME-<disk>.qcow2.
 */
export async function restoreDomain(
	connection: LibvirtConnection,
	name: string,
	definition: unknown,
	disks: readonly string[],
	write: (disk: string, target: string) => Promise<void>,
	bootFiles: Readonly<Record<string, string>> = {},
) {
	assertValidName('VM', name);
	const {host, virsh} = connection;
	if (typeof definition !== 'string' || !definition.includes('<domain'))
		throw new SnapdeckError(
			'refused',
			'the backup point does not hold a libvirt domain definition, so it cannot become a domain here',
			'restore its disks with --to PATH instead',
		);
	if ((await connection.domainNames()).includes(name))
		throw new SnapdeckError(
			'refused',
			`there is already a domain '${name}' on ${connection.uri}`,
			'choose another name with --as',
		);
	const original = parseDomainXml(definition).disks;
	const sources = new Map(
		disks.map(disk => [
			disk,
			path.join(
				path.dirname(original.find(candidate => candidate.target === disk)?.file ?? '/var/lib/libvirt/images/x'),
				`${name}-${disk}.qcow2`,
			),
		]),
	);
	for (const file of sources.values()) {
		if (await host.exists(file))
			throw new SnapdeckError(
				'refused',
				`${file} already exists on ${host.name}; snapdeck never overwrites an image`,
				'choose another name with --as, or move the file away',
			);
	}
	const written: string[] = [];
	// On a remote host each disk is restored here first, then copied there over ssh.
	const staging = host === localHost ? null : await mkdtemp(path.join(os.tmpdir(), 'snapdeck-restore-'));
	try {
		for (const [disk, file] of sources) {
			const local = staging === null ? file : path.join(staging, `${disk}.qcow2`);
			await write(disk, local);
			written.push(file);
			if (staging !== null) {
				await host.push(local, file);
				await rm(local, {force: true});
			}
		}
		const boot = await pushBootFiles(
			host,
			definition,
			name,
			path.dirname([...sources.values()][0] ?? '/var/lib/libvirt/images/x'),
			bootFiles,
			written,
		);
		await withXmlFile(withBootFiles(asNewDomain(definition, name, sources), boot), file =>
			virsh.run(['define', '--file', file]),
		);
		return Object.fromEntries(sources);
	} catch (error) {
		for (const file of written) await host.remove(file);
		throw error;
	} finally {
		if (staging !== null) await rm(staging, {recursive: true, force: true});
	}
}

/**
 * The point's kernel, initramfs and UEFI variables, beside the new disks in `folder`: the new
 * domain starts without the old one's. Each file pushed is added to `written` as it is there;
 * resolves to where each is, by the path the definition gives it.
 */
async function pushBootFiles(
	host: Host,
	definition: string,
	name: string,
	folder: string,
	bootFiles: Readonly<Record<string, string>>,
	written: string[],
): Promise<Map<string, string>> {
	const boot = new Map<string, string>();
	for (const file of domainBootFiles(definition)) {
		const own = bootFiles[file.path];
		if (own === undefined) continue;
		const there = path.join(folder, `${name}-${file.role}${file.role === 'nvram' ? '.fd' : ''}`);
		await host.push(own, there);
		written.push(there);
		boot.set(file.path, there);
	}
	return boot;
}
