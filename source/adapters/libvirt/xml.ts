import {XMLParser} from 'fast-xml-parser';
import {z} from 'zod';
import {SnapdeckError} from '../../core/errors.js';

const parser = new XMLParser({ignoreAttributes: false, attributeNamePrefix: '@', isArray: name => name === 'disk'});

/**
 * Elements of a domain's XML that the schemas below never read, left as unparsed text (fast-xml-parser's
 * stopNodes): a disk's backingStore nests once per layer of its chain, and a snapshot's XML holds the
 * whole domain, so a domain with N snapshots N deep parsed N^2 layers on every inspection (22
 * snapshots: 100 ms of a take); <metadata> is any XML another tool put there.
 */
const UNREAD = [
	'backingStore',
	'metadata',
	'controller',
	'address',
	'interface',
	'graphics',
	'video',
	'channel',
	'serial',
	'console',
	'input',
	'memballoon',
	'cpu',
	'features',
	'clock',
	'os',
	'pm',
	'seclabel',
	'rng',
	'sound',
];
const schemaParser = new XMLParser({
	ignoreAttributes: false,
	attributeNamePrefix: '@',
	isArray: name => name === 'disk',
	stopNodes: UNREAD.map(name => `*.${name}`),
});

const Source = z.looseObject({'@file': z.string().optional()});
const DomainDisk = z.looseObject({
	'@device': z.string().optional(),
	'@snapshot': z.string().optional(),
	source: Source.optional(),
	target: z.looseObject({'@dev': z.string()}),
});
const Domain = z.looseObject({
	name: z.string(),
	uuid: z.string(),
	devices: z.looseObject({disk: z.array(DomainDisk).default([])}).optional(),
});
const Snapshot = z.looseObject({
	name: z.union([z.string(), z.number()]).transform(String),
	description: z.union([z.string(), z.number()]).transform(String).optional(),
	state: z.string(),
	creationTime: z.union([z.string(), z.number()]).transform(Number),
	parent: z.looseObject({name: z.union([z.string(), z.number()]).transform(String)}).optional(),
	memory: z.looseObject({'@snapshot': z.string()}).optional(),
	disks: z
		.union([
			z.looseObject({
				disk: z
					.array(z.looseObject({'@name': z.string(), '@snapshot': z.string().optional(), source: Source.optional()}))
					.default([]),
			}),
			z.literal(''),
		])
		.optional(),
	domain: Domain,
});

export interface DomainDisks {
	readonly name: string;
	readonly uuid: string;
	/** Disks (not cdroms) with a file source: target and active image. */
	readonly disks: Array<{target: string; file: string}>;
}

export interface SnapshotXml {
	readonly name: string;
	readonly description: string;
	readonly createdAt: string;
	readonly parent: string | null;
	readonly memory: boolean;
	/** 'external' if any disk was snapshotted externally, else 'internal'. */
	readonly kind: 'external' | 'internal';
	/** The domain's disks when the snapshot was taken: what an external snapshot froze, or what holds an internal one. */
	readonly disks: Array<{target: string; file: string}>;
}

function parse<T>(schema: z.ZodType<T>, xml: string, root: string, what: string): T {
	const document = schemaParser.parse(xml) as Record<string, unknown>;
	const parsed = schema.safeParse(document[root]);
	if (!parsed.success)
		throw new SnapdeckError(
			'failed',
			`libvirt's ${what} has a shape snapdeck does not know: ${z.prettifyError(parsed.error).replaceAll('\n', ' ')}`,
		);
	return parsed.data;
}

const fileDisks = (domain: z.infer<typeof Domain>) =>
	(domain.devices?.disk ?? [])
		.filter(disk => (disk['@device'] ?? 'disk') === 'disk' && disk.source?.['@file'])
		.map(disk => ({target: disk.target['@dev'], file: disk.source!['@file']!}));

export function parseDomainXml(xml: string): DomainDisks {
	const domain = parse(Domain, xml, 'domain', 'domain XML');
	return {name: String(domain.name), uuid: domain.uuid, disks: fileDisks(domain)};
}

export function parseSnapshotXml(xml: string): SnapshotXml {
	const snapshot = parse(Snapshot, xml, 'domainsnapshot', 'snapshot XML');
	const disks = snapshot.disks === '' || snapshot.disks === undefined ? [] : snapshot.disks.disk;
	return {
		name: snapshot.name,
		description: snapshot.description ?? '',
		createdAt: new Date(snapshot.creationTime * 1000).toISOString(),
		parent: snapshot.parent?.name ?? null,
		memory: snapshot.memory?.['@snapshot'] === 'internal' || snapshot.memory?.['@snapshot'] === 'external',
		kind: disks.some(disk => disk['@snapshot'] === 'external') ? 'external' : 'internal',
		disks: fileDisks(snapshot.domain),
	};
}

interface BackingNode {
	readonly source?: {readonly '@file'?: string};
	readonly backingStore?: BackingNode | '';
}

/** The image files of a disk's chain in a running domain's XML (source, then each backingStore), top first. */
export function diskChain(xml: string, target: string): string[] {
	const document = parser.parse(xml) as {
		domain?: {devices?: {disk?: Array<BackingNode & {target?: {'@dev'?: string}}>}};
	};
	const disk = document.domain?.devices?.disk?.find(candidate => candidate.target?.['@dev'] === target);
	const chain: string[] = [];
	for (let node: BackingNode | '' | undefined = disk; node && node.source?.['@file']; node = node.backingStore)
		chain.push(node.source['@file']);
	return chain;
}

/**
 * The user and group a running domain's QEMU runs as, from its live XML's DAC label (`+UID:+GID`,
 * as libvirt writes it); null when the XML does not say so in numbers.
 */
export function qemuOwner(xml: string): {uid: number; gid: number} | null {
	const document = parser.parse(xml) as {domain?: {seclabel?: unknown}};
	for (const label of [document.domain?.seclabel ?? []].flat() as Array<Record<string, unknown> | null>) {
		if (label?.['@model'] !== 'dac') continue;
		const match = /^\+(\d{1,10}):\+(\d{1,10})$/.exec(String(label['label'] ?? ''));
		if (match) return {uid: Number(match[1]), gid: Number(match[2])};
	}
	return null;
}

/** The unix socket of a running pull-mode backup job (`virsh backup-dumpxml`); null for push mode or none. */
export function pullSocket(xml: string): string | null {
	const backup = (parser.parse(xml) as {domainbackup?: Record<string, unknown>}).domainbackup;
	const server = backup?.['server'] as Record<string, unknown> | undefined;
	const socket = server?.['@socket'];
	return backup?.['@mode'] === 'pull' && server?.['@transport'] === 'unix' && typeof socket === 'string'
		? socket
		: null;
}

const BOOT_ROLES = {kernel: 'kernel', initrd: 'initrd', nvram: 'nvram'} as const;

/**
 * What a domain needs to start besides its disks, as its XML names them: <os>'s <kernel> and
 * <initrd> (a direct kernel boot) and <nvram> (UEFI's variables, the domain's own).
 */
export function domainBootFiles(xml: string): Array<{role: 'kernel' | 'initrd' | 'nvram'; path: string}> {
	const document = parser.parse(xml) as {domain?: {os?: Record<string, unknown>}};
	const os = document.domain?.os;
	if (!os || typeof os !== 'object') return [];
	const text = (value: unknown) =>
		typeof value === 'string'
			? value
			: typeof value === 'object' && value !== null && typeof (value as {'#text'?: unknown})['#text'] === 'string'
				? (value as {'#text': string})['#text']
				: null;
	return (Object.keys(BOOT_ROLES) as Array<keyof typeof BOOT_ROLES>).flatMap(role => {
		const found = text(os[role])?.trim();
		return found && found.startsWith('/') ? [{role, path: found}] : [];
	});
}
