import {createHash} from 'node:crypto';
import {closeSync, constants, fsyncSync, openSync, writeSync} from 'node:fs';
import type {Manifest} from '../core/backup-manifest.js';
import {SnapdeckError} from '../core/errors.js';
import {
	LISTING_OUTPUT_LIMIT,
	MANIFEST_LIMIT,
	manifestEntryProblem,
	namedFiles,
	parseListing,
	parseRemoteManifest,
	snapshotProblems,
	type NamedFile,
} from '../core/offsite-contents.js';
import type {RemotePoint} from '../core/offsite-model.js';
import {restic, targetLabel, type ResticTarget} from '../adapters/restic.js';

/** A snapshot read as a copy of its point: its manifest, and the files a restore of the point fetches. */
export interface InspectedSnapshot {
	readonly manifest: Manifest;
	readonly files: readonly NamedFile[];
}

/**
 * Reads what snapshot `remote.snapshot` holds (its listing, then its manifest) without fetching
 * any of its data: problems when it is not a copy of point `remote.id` as snapdeck makes one.
 */
export async function inspectSnapshot(
	target: ResticTarget,
	vm: string,
	remote: RemotePoint,
	signal?: AbortSignal,
): Promise<InspectedSnapshot | {problems: string[]}> {
	const short = remote.snapshot.slice(0, 8);
	const listing = parseListing(
		await restic(target, ['ls', '--json', remote.snapshot], {
			signal,
			bound: 'metadata',
			maxOutput: LISTING_OUTPUT_LIMIT,
		}),
	);
	if (listing instanceof Error) return {problems: [`snapshot ${short}: ${listing.message}`]};
	const entry = manifestEntryProblem(listing, short);
	if (entry !== null) return {problems: [entry]};
	const manifest = parseRemoteManifest(
		await restic(target, ['dump', remote.snapshot, '/manifest.json'], {
			signal,
			bound: 'metadata',
			maxOutput: MANIFEST_LIMIT,
		}),
	);
	if (manifest instanceof Error) return {problems: [manifest.message]};
	const problems = snapshotProblems(manifest, vm, remote, listing);
	return problems.length > 0 ? {problems} : {manifest, files: namedFiles(manifest, remote.id)};
}

/** The snapshot as a copy of its point, or the refusal that says why it is not one (nothing fetched). */
export async function inspectOrRefuse(
	target: ResticTarget,
	vm: string,
	remote: RemotePoint,
	signal?: AbortSignal,
): Promise<InspectedSnapshot> {
	const inspected = await inspectSnapshot(target, vm, remote, signal);
	if ('problems' in inspected) {
		throw new SnapdeckError(
			'refused',
			`snapshot ${remote.snapshot.slice(0, 8)} of point ${remote.id} on ${targetLabel(target)} is not a copy snapdeck made: ${inspected.problems.join('; ')}; nothing was restored`,
			`someone who holds the target's password made or changed it: restore another point (or another snapshot of it with --snapshot ID), and check who can write to the target`,
			'damaged',
		);
	}
	return inspected;
}

/**
 * Streams one file of a snapshot (restic dump) into `to`, a new file, hashing it on the way: stopped
 * as soon as it runs past the size its manifest gives. The sha256 of what was written.
 */
export async function dumpFile(
	target: ResticTarget,
	snapshot: string,
	named: NamedFile,
	to: string,
	signal?: AbortSignal,
): Promise<string> {
	const fd = openSync(to, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o600);
	const hash = createHash('sha256');
	const stop = new AbortController();
	const onAbort = () => stop.abort();
	signal?.addEventListener('abort', onAbort);
	let written = 0;
	try {
		await restic(target, ['dump', snapshot, `/${named.file}`], {
			signal: stop.signal,
			bound: 'data',
			onData: chunk => {
				if (stop.signal.aborted) return;
				written += chunk.length;
				if (written > named.size) return stop.abort();
				hash.update(chunk);
				// Written as it comes: the pipe waits meanwhile, so a large file never waits in memory.
				for (let offset = 0; offset < chunk.length;) offset += writeSync(fd, chunk, offset);
			},
		}).catch(error => {
			if (!signal?.aborted && written > named.size) return;
			throw error;
		});
		if (written > named.size)
			throw new SnapdeckError(
				'refused',
				`${named.file} in snapshot ${snapshot.slice(0, 8)} on ${targetLabel(target)} runs past the ${named.size} bytes its manifest says: it was not restored`,
				"someone who holds the target's password changed that snapshot: check who can write to it",
				'damaged',
			);
		fsyncSync(fd);
		return hash.digest('hex');
	} finally {
		signal?.removeEventListener('abort', onAbort);
		closeSync(fd);
	}
}
