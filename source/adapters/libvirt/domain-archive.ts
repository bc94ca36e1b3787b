import {mkdir, rm} from 'node:fs/promises';
import path from 'node:path';
import {z} from 'zod';
import {ARCHIVE_IMAGE_NAME} from '../../core/backup-manifest.js';
import {SnapdeckError} from '../../core/errors.js';
import {assertValidName} from '../../core/names.js';
import {localHost} from '../host.js';
import type {Inspection} from '../hypervisor.js';
import type {LibvirtConnection} from './connection.js';
import {asNewDomain, asRestoredSnapshot} from './domain-edit.js';
import {withXmlFile} from './xml-file.js';
import {parseDomainXml} from './xml.js';

/** What a libvirt whole-VM archive records to define the domain and its snapshots again. */
const LibvirtArchive = z.object({
	domain: z.string().includes('<domain'),
	snapshots: z.array(z.object({name: z.string(), xml: z.string().includes('<domainsnapshot')})),
	current: z.string().nullable(),
	/** Each archive image's path when it was archived, by its name in the archive. */
	images: z.record(z.string().regex(ARCHIVE_IMAGE_NAME), z.string()),
});
type LibvirtArchive = z.infer<typeof LibvirtArchive>;

/**
 * A stopped domain's whole-VM archive: every image of its snapshot tree (by file name, so
 * images of one archive need distinct names), the inactive domain XML, and each snapshot's XML
 * (parents first) with which one is current.
 */
export async function archiveDomain({uri, host, virsh}: LibvirtConnection, {state}: Inspection) {
	const vm = state.definition.name;
	if (host !== localHost)
		throw new SnapdeckError(
			'refused',
			`archiving a domain of a remote host (${uri}) with its snapshots is not supported yet`,
			'back it up without --with-snapshots, or run snapdeck on that host',
		);
	const images = Object.values(state.images).map(image => ({
		name: path.basename(image.file),
		path: image.file,
		backing: image.backing === null ? null : path.basename(image.backing),
	}));
	const clash = images.find((image, index) => images.findIndex(other => other.name === image.name) !== index);
	if (clash)
		throw new SnapdeckError(
			'refused',
			`${vm} has two images named ${clash.name} (in different folders), which one archive cannot hold`,
			'back it up without --with-snapshots',
		);
	const unnamed = images.find(image => !ARCHIVE_IMAGE_NAME.test(image.name));
	if (unnamed)
		throw new SnapdeckError(
			'refused',
			`${vm} has an image named ${JSON.stringify(unnamed.name)}, which an archive cannot hold (letters, digits, '.', '_', '+' and '-' only)`,
			'back it up without --with-snapshots',
		);
	const order: string[] = [];
	const add = (name: string) => {
		const snapshot = state.definition.snapshots.find(candidate => candidate.name === name)!;
		if (snapshot.parent !== null && !order.includes(snapshot.parent)) add(snapshot.parent);
		if (!order.includes(name)) order.push(name);
	};
	for (const snapshot of state.definition.snapshots) add(snapshot.name);
	const [domain, ...snapshots] = await virsh.batch([
		['dumpxml', '--domain', vm, '--inactive', '--security-info'],
		...order.map(name => ['snapshot-dumpxml', '--domain', vm, '--snapshotname', name, '--security-info']),
	]);
	const definition: LibvirtArchive = {
		domain: domain!,
		snapshots: order.map((name, index) => ({name, xml: snapshots[index]!})),
		current: state.definition.current,
		images: Object.fromEntries(images.map(image => [image.name, image.path])),
	};
	return {images, definition};
}

/**
 * A new domain from a whole-VM archive: its images in a new folder `NAME` beside the original
 * domain's first disk, the domain defined from the recorded XML (new name, UUID and MAC
 * addresses), then each snapshot redefined on it, parents first, with every path renamed.
 */
export async function restoreDomainArchive(
	connection: LibvirtConnection,
	name: string,
	definition: unknown,
	images: readonly string[],
	copy: (image: string, target: string) => Promise<void>,
) {
	const {virsh} = connection;
	const {archive, original, folder, renames} = await placeArchive(connection, name, definition, images);
	await mkdir(folder, {mode: 0o711});
	let defined = false;
	try {
		for (const image of images) await copy(image, path.join(folder, image));
		await withXmlFile(
			asNewDomain(archive.domain, name, new Map(original.map(disk => [disk.target, renames.get(disk.file)!]))),
			file => virsh.run(['define', '--file', file]),
		);
		defined = true;
		const uuid = (await virsh.run(['domuuid', '--domain', name])).trim();
		for (const snapshot of archive.snapshots) {
			const current = snapshot.name === archive.current ? ['--current'] : [];
			await withXmlFile(asRestoredSnapshot(snapshot.xml, name, uuid, renames), file =>
				virsh.run(['snapshot-create', '--domain', name, '--xmlfile', file, '--redefine', ...current]),
			);
		}
		return Object.fromEntries(original.map(disk => [disk.target, renames.get(disk.file)!]));
	} catch (error) {
		// The domain and the folder are new and ours: nothing of them is kept from a failed restore.
		if (defined) await virsh.run(['undefine', '--domain', name, '--snapshots-metadata']).catch(() => undefined);
		await rm(folder, {recursive: true, force: true});
		throw error;
	}
}

/**
 * Where an archive's domain goes (a new folder `NAME` beside the original domain's first disk),
 * what it holds, and each archived image's path renamed into that folder; refused where the
 * archive cannot become domain `name` here.
 */
async function placeArchive(
	connection: LibvirtConnection,
	name: string,
	definition: unknown,
	images: readonly string[],
) {
	assertValidName('VM', name);
	const {host} = connection;
	if (host !== localHost)
		throw new SnapdeckError(
			'refused',
			`restoring a whole-VM archive onto a remote host (${connection.uri}) is not supported yet`,
			'restore the present state with --as (without the snapshots), or run snapdeck on that host',
		);
	const parsed = LibvirtArchive.safeParse(definition);
	if (!parsed.success)
		throw new SnapdeckError(
			'refused',
			'the archive does not hold a libvirt domain with its snapshots, so it cannot become a domain here',
			'restore its disks with --to PATH instead',
		);
	const archive = parsed.data;
	if ((await connection.domainNames()).includes(name))
		throw new SnapdeckError(
			'refused',
			`there is already a domain '${name}' on ${connection.uri}`,
			'choose another name with --as',
		);
	const original = parseDomainXml(archive.domain).disks;
	const folder = path.join(path.dirname(original[0]?.file ?? '/var/lib/libvirt/images/x'), name);
	if (await host.exists(folder))
		throw new SnapdeckError(
			'refused',
			`${folder} already exists; snapdeck never overwrites it`,
			'choose another name with --as, or move it away',
		);
	const renames = new Map(
		Object.entries(archive.images)
			.filter(([image]) => images.includes(image))
			.map(([image, old]) => [old, path.join(folder, image)]),
	);
	const missing = original.filter(disk => !renames.has(disk.file)).map(disk => disk.file);
	if (missing.length > 0)
		throw new SnapdeckError(
			'refused',
			`the archive does not hold ${missing.join(', ')}, which the domain runs on`,
			'restore the present state instead: --to PATH, or a point without --with-snapshots',
		);
	return {archive, original, folder, renames};
}
