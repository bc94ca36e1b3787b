import {z} from 'zod';
import {archiveFile, Manifest, manifestProblems, pointChain} from './backup-manifest.js';
import {errorMessage} from './errors.js';
import {kitDefinitionOf, kitIndexOf} from './restore-kit.js';
import type {RemotePoint} from './offsite-model.js';

/**
 * What a snapshot on an off-site target holds, read as hostile: anyone with the target's password
 * can add one with a real point's tags. Its listing (`restic ls --json`) and its manifest are
 * parsed here, once; a restore fetches only the files its manifest names, and only after the
 * listing shows each of them as a regular file of the size the manifest says, and nothing else
 * but the small files a copy carries beside them (the restore kit, the point's receipts).
 */

/** The largest manifest read back from a target (a manifest of a few points is a few KiB; its definitions are the bulk). */
export const MANIFEST_LIMIT = 16 * 1024 * 1024;
/** The largest file of the restore kit or a receipt a snapshot may hold beside the point's files. */
const CARRIED_LIMIT = 16 * 1024 * 1024;
/** What `restic ls --json` of one snapshot may print (a line per file: a copy holds tens). */
export const LISTING_OUTPUT_LIMIT = 16 * 1024 * 1024;

/** A file a remote point's restore fetches: its path in the snapshot (relative to the VM's folder), size and checksum. */
export interface NamedFile {
	readonly file: string;
	readonly size: number;
	readonly sha256: string;
}

/** A node of `restic ls --json`, as far as snapdeck reads it. */
const SnapshotNode = z.looseObject({
	struct_type: z.literal('node'),
	type: z.string(),
	path: z.string().startsWith('/'),
	size: z.number().int().nonnegative().optional(),
});
const SnapshotHeader = z.looseObject({struct_type: z.literal('snapshot')});

export interface SnapshotEntry {
	readonly type: string;
	readonly size: number | null;
}

/** A snapshot's listing: each path (as `/vda/X.qcow2`), with every node restic gives for it. */
export type SnapshotListing = ReadonlyMap<string, readonly SnapshotEntry[]>;

/** `restic ls --json SNAPSHOT`: a line for the snapshot, then one per node; anything else is refused. */
export function parseListing(text: string): SnapshotListing | Error {
	const listing = new Map<string, SnapshotEntry[]>();
	for (const line of text.split('\n').filter(Boolean)) {
		let json: unknown;
		try {
			json = JSON.parse(line);
		} catch {
			return new Error('restic ls did not answer in JSON');
		}
		if (SnapshotHeader.safeParse(json).success) continue;
		const node = SnapshotNode.safeParse(json);
		if (!node.success) return new Error('restic ls answered with a line that is not a file of the snapshot');
		listing.set(node.data.path, [
			...(listing.get(node.data.path) ?? []),
			{type: node.data.type, size: node.data.size ?? null},
		]);
	}
	return listing;
}

/** Why a snapshot's manifest.json cannot be read as a manifest, or null (listed as one regular file, not too large). */
export function manifestEntryProblem(listing: SnapshotListing, short: string): string | null {
	const found = listing.get('/manifest.json') ?? [];
	if (found.length === 0) return `its manifest is not in snapshot ${short}`;
	if (found.length > 1 || found[0]!.type !== 'file')
		return `snapshot ${short} holds its manifest as a link or device, not a file`;
	if ((found[0]!.size ?? Infinity) > MANIFEST_LIMIT)
		return `its manifest is ${found[0]!.size ?? 'an unknown number of'} bytes in snapshot ${short}: no manifest snapdeck writes is that large`;
	return null;
}

/** A snapshot's manifest.json as text: checked with the manifest schema and the chain rules. */
export function parseRemoteManifest(text: string): Manifest | Error {
	let json: unknown;
	try {
		json = JSON.parse(text);
	} catch (error) {
		return new Error(`its manifest cannot be read (${errorMessage(error)})`);
	}
	const parsed = Manifest.safeParse(json);
	if (!parsed.success)
		return new Error(`its manifest is not one snapdeck wrote: ${z.prettifyError(parsed.error).replaceAll('\n', ' ')}`);
	const problems = manifestProblems(parsed.data);
	if (problems.length > 0) return new Error(`its manifest is not one snapdeck wrote: ${problems.join('; ')}`);
	return parsed.data;
}

/**
 * What a snapshot's manifest must be for point `remote` of `vm`: this VM's, the point's chain and
 * nothing more, saying what the snapshot's tags say. Problems, or none.
 */
export function remoteManifestProblems(manifest: Manifest, vm: string, remote: RemotePoint): string[] {
	if (manifest.vm !== vm) return [`its manifest is of VM ${manifest.vm}, not of ${vm}`];
	const point = manifest.points.find(candidate => candidate.id === remote.id);
	if (!point) return [`its manifest has no point ${remote.id}`];
	const chain = new Set(pointChain(manifest, remote.id).map(member => member.id));
	const problems: string[] = [];
	const beyond = manifest.points.filter(member => !chain.has(member.id)).map(member => member.id);
	if (beyond.length > 0)
		problems.push(`its manifest names points ${beyond.join(', ')} beyond the chain of point ${remote.id}`);
	if (point.kind !== remote.kind || point.parent !== remote.parent)
		problems.push(
			`its tags say ${remote.kind}${remote.parent ? ` on ${remote.parent}` : ''}, its manifest ${point.kind}${point.parent ? ` on ${point.parent}` : ''}`,
		);
	const disks = (list: readonly string[]) => [...list].sort().join(',');
	if (disks(point.files.map(file => file.disk)) !== disks(remote.disks))
		problems.push(
			`its tags name disks ${disks(remote.disks)}, its manifest ${disks(point.files.map(file => file.disk))}`,
		);
	const others = manifest.points.filter(
		member =>
			member.identity !== null &&
			manifest.identity !== null &&
			(member.identity.host !== manifest.identity.host || member.identity.uuid !== manifest.identity.uuid),
	);
	if (others.length > 0)
		problems.push(
			`its manifest's points ${others.map(member => member.id).join(', ')} are of another VM than the manifest`,
		);
	return problems;
}

/**
 * The manifest a restore stages: the point's chain, the points under it without archives or
 * boot files (a copy holds the point's own only: whatever else a manifest names is not fetched).
 */
export function stagedManifest(manifest: Manifest, id: string): Manifest {
	const chain = new Set(pointChain(manifest, id).map(member => member.id));
	return {
		...manifest,
		points: manifest.points
			.filter(member => chain.has(member.id))
			.map(member => (member.id === id ? member : {...member, archive: null, bootFiles: []})),
	};
}

/** Every file a restore of point `id` fetches: its chain's disk files, and its own archive images and boot files. */
export function namedFiles(manifest: Manifest, id: string): NamedFile[] {
	const chain = pointChain(manifest, id);
	const point = chain[0]!;
	return [
		...chain.flatMap(member => member.files.map(({file, size, sha256}) => ({file, size, sha256}))),
		...(point.archive ?? []).map(image => ({
			file: archiveFile(point.id, image.name),
			size: image.size,
			sha256: image.sha256,
		})),
		...point.bootFiles.map(({file, size, sha256}) => ({file, size, sha256})),
	];
}

/**
 * How a snapshot's listing differs from what its manifest names: each named file must be there
 * once, a regular file (a link or a device is never restored), of the size the manifest says.
 */
export function listingProblems(files: readonly NamedFile[], entries: SnapshotListing, snapshot: string): string[] {
	const short = snapshot.slice(0, 8);
	return files.flatMap(named => {
		const found = entries.get(`/${named.file}`) ?? [];
		if (found.length === 0) return [`${named.file} is not in snapshot ${short}`];
		if (found.length > 1) return [`${named.file} is in snapshot ${short} ${found.length} times`];
		const entry = found[0]!;
		if (entry.type !== 'file')
			return [`snapshot ${short} holds ${named.file} as a link or device, not a file: it is not restored`];
		if (entry.size !== named.size)
			return [
				`${named.file} is ${entry.size ?? 'an unknown number of'} bytes in snapshot ${short}, and its manifest says ${named.size}`,
			];
		return [];
	});
}

/** The files a copy of point `id` carries beside those its manifest names: the manifest, the restore kit, the point's receipts. */
function carriedFile(manifest: Manifest, id: string, file: string): boolean {
	// .snapdeck-job: the marker of the copy job's staging folder (what recover looks for).
	if (['/manifest.json', '/restore.sh', '/RESTORE.md', '/FORMAT', '/.snapdeck-job'].includes(file)) return true;
	if (
		pointChain(manifest, id).some(
			member => file === `/${kitIndexOf(member.id)}` || file === `/${kitDefinitionOf(member.id, member.definition)}`,
		)
	)
		return true;
	return /^\/receipts\/[\w.-]+\.json$/.test(file) && file.includes(`-${id}-`);
}

/**
 * What a snapshot holds that a copy of point `id` never does: files its manifest does not name,
 * links, devices, a carried file larger than any snapdeck writes. Folders are nothing to restore.
 */
export function unexpectedEntries(
	manifest: Manifest,
	id: string,
	entries: SnapshotListing,
	snapshot: string,
): string[] {
	const named = new Set(namedFiles(manifest, id).map(file => `/${file.file}`));
	const extra: string[] = [];
	for (const [file, found] of entries) {
		if (named.has(file) || found.every(entry => entry.type === 'dir')) continue;
		const carried =
			carriedFile(manifest, id, file) &&
			found.length === 1 &&
			found[0]!.type === 'file' &&
			(found[0]!.size ?? Infinity) <= CARRIED_LIMIT;
		if (!carried)
			extra.push(
				`${file.slice(1)} (${found.map(entry => (entry.type === 'file' ? `${entry.size ?? '?'} bytes` : entry.type)).join(', ')})`,
			);
	}
	if (extra.length === 0) return [];
	const shown = extra.slice(0, 5).join(', ');
	return [
		`snapshot ${snapshot.slice(0, 8)} holds what no copy of point ${id} does: ${shown}${extra.length > 5 ? ` and ${extra.length - 5} more` : ''}`,
	];
}

/** Everything wrong with a snapshot's manifest and listing as a copy of `remote`: none, or what to refuse it for. */
export function snapshotProblems(
	manifest: Manifest,
	vm: string,
	remote: RemotePoint,
	entries: SnapshotListing,
): string[] {
	const problems = remoteManifestProblems(manifest, vm, remote);
	if (problems.length > 0) return problems;
	return [
		...listingProblems(namedFiles(manifest, remote.id), entries, remote.snapshot),
		...unexpectedEntries(manifest, remote.id, entries, remote.snapshot),
	];
}
