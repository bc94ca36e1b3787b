import path from 'node:path';
import type {ImageInfo, VmDefinition} from '../../core/model.js';
import {mapLimited} from '../../core/chain.js';
import {errorMessage, SnapdeckError} from '../../core/errors.js';
import {CommandFailed} from '../exec.js';
import {liesOutsideAll} from '../file-checks.js';
import {backingFileProblem, backingNameProblem, headerChain, qcow2Info} from './qcow2-header.js';
import type {QemuImg, QemuImgInfo} from './qemu-img.js';

type GraphOptions = {readsFiles?: boolean; confine?: boolean; alsoWithin?: readonly string[]};

/** What reading one image gave: its header, or why it was not opened (refused) or could not be read (error). */
type ImageRead = {next: string; info?: QemuImgInfo; refused?: string; error?: {missing: boolean; words: string}};

/** Reads one image of the graph (`next`, named as the graph names it), unless it is not safe to open. */
async function readImage(
	next: string,
	base: string | null,
	readInfo: (file: string) => Promise<QemuImgInfo>,
	options: GraphOptions,
): Promise<ImageRead> {
	const absolute = path.resolve(base ?? '/', next);
	const unsafe = options.readsFiles ? await backingFileProblem(absolute) : null;
	if (unsafe) return {next, refused: unsafe};
	if (options.confine && base !== null && liesOutsideAll([base, ...(options.alsoWithin ?? [])], absolute))
		return {next, refused: `lies outside the VM's folder ${base}`};
	try {
		return {next, info: await readInfo(absolute)};
	} catch (error) {
		// qemu-img's words, or what the file system or the qcow2 reader said.
		if (error instanceof CommandFailed)
			return {next, error: {missing: /No such file/.test(error.words), words: error.words.replace(/^qemu-img: /, '')}};
		const code = (error as NodeJS.ErrnoException).code;
		if (!(error instanceof SnapdeckError) && typeof code !== 'string') throw error;
		return {next, error: {missing: code === 'ENOENT', words: errorMessage(error)}};
	}
}

/**
 * An image of the graph from its header, and what is wrong with it (`what` names it in those
 * words): a backing name that is not safe to open is left out, as if it had none.
 */
function imageFrom(
	next: string,
	info: QemuImgInfo,
	what: string,
	base: string | null,
	nameOf: (absolute: string) => string,
	problems: string[],
): ImageInfo {
	const file = path.resolve(base ?? '/', next);
	const backingName = info['backing-filename'];
	const badName = backingName === undefined ? null : backingNameProblem(backingName);
	if (badName) problems.push(`the backing file of ${what} ${badName}; snapdeck does not open it`);
	const backingPath = badName ? undefined : info['full-backing-filename'];
	if (info['format-specific']?.data.corrupt) problems.push(`${what} is marked corrupt by QEMU`);
	return {
		file: next,
		format: info.format,
		virtualSize: info['virtual-size'],
		actualSize: info['actual-size'] ?? 0,
		backing: backingPath === undefined ? null : nameOf(path.resolve(path.dirname(file), backingPath)),
		internalSnapshots: (info.snapshots ?? []).map(snapshot => ({
			name: snapshot.name,
			vmStateSize: snapshot['vm-state-size'],
			createdAt: new Date(snapshot['date-sec'] * 1000).toISOString(),
		})),
		bitmaps: (info['format-specific']?.data.bitmaps ?? []).map(bitmap => bitmap.name),
	};
}

/** The internal snapshots the definition names that their images do not hold. */
function missingInternalSnapshots(
	definition: VmDefinition,
	images: Record<string, ImageInfo>,
	metadataName: string,
): string[] {
	const problems: string[] = [];
	for (const snapshot of definition.snapshots.filter(candidate => candidate.kind === 'internal')) {
		for (const disk of snapshot.disks) {
			const image = images[disk.file];
			if (image && !image.internalSnapshots.some(internal => internal.name === snapshot.name)) {
				problems.push(
					`${disk.file} has no internal snapshot '${snapshot.name}', though ${metadataName} says it holds it`,
				);
			}
		}
	}
	return problems;
}

/**
 * Reads every image a VM's definition reaches (active images, snapshot images, and their backing
 * files) with qemu-img, each image on its own so that a missing or damaged file is reported and the
 * rest still read. Files are named relative to `base` when inside it, else (or with a null
 * `base`) by absolute path. Nothing read from a file is followed blindly: a backing name that is a
 * protocol, a device, or (with `confine`) a file outside `base` is a problem, and is not opened.
 */
export async function readImageGraph(
	qemuImg: QemuImg,
	base: string | null,
	definition: VmDefinition,
	metadataName: string,
	options: GraphOptions = {},
) {
	// Images this process can open are read directly (qcow2Info: microseconds); others, on a remote
	// host, by qemu-img there.
	const readInfo = options.readsFiles ? qcow2Info : (file: string) => qemuImg.info(file);
	const problems: string[] = [];
	const images: Record<string, ImageInfo> = {};
	const referrer = new Map<string, string>();
	const nameOf = (absolute: string) => {
		if (base === null) return absolute;
		const relative = path.relative(base, absolute);
		return relative.startsWith('..') || path.isAbsolute(relative) ? absolute : relative;
	};
	const seen = new Set<string>();
	const fresh = (files: readonly string[]) => [...new Set(files)].filter(file => !seen.has(file));
	// Breadth first, each level's images read at once (qemu-img is a process start, ~15 ms, each):
	// the definition names most of them, and the backing files it does not come next.
	for (
		let wave = fresh(
			[...definition.disks, ...definition.snapshots.flatMap(snapshot => snapshot.disks)].map(disk => disk.file),
		);
		wave.length > 0;
	) {
		for (const file of wave) seen.add(file);
		const read = await mapLimited(wave, 4, next => readImage(next, base, readInfo, options));
		const backings: string[] = [];
		for (const {next, info, error, refused} of read) {
			const usedBy = referrer.get(next);
			const what = usedBy ? `${next} (the backing file of ${usedBy})` : next;
			if (refused) {
				problems.push(`${what} ${refused}; snapdeck does not open it`);
				continue;
			}
			if (!info) {
				if (error)
					problems.push(
						error.missing ? `${what} is missing` : `${what} cannot be read as a qcow2 image: ${error.words}`,
					);
				continue;
			}
			const image = imageFrom(next, info, what, base, nameOf, problems);
			images[next] = image;
			if (image.backing !== null && !referrer.has(image.backing)) {
				referrer.set(image.backing, next);
				backings.push(image.backing);
			}
		}
		wave = fresh(backings);
	}
	problems.push(...missingInternalSnapshots(definition, images, metadataName));
	return {images, problems};
}

/** Candidates read at once by strayOverlays: enough to keep a remote host's batched reads (host.ts: layerReader) full. */
const STRAY_READS = 32;

/**
 * Overlays built on a VM's images that neither a disk nor a snapshot knows: qcow2 files among
 * `candidates` whose backing chain reaches one of `images` (left by an interrupted operation, or
 * by a tool that changed the chain behind snapdeck's back). Candidates are absolute paths.
 */
export async function strayOverlays(
	candidates: readonly string[],
	images: ReadonlySet<string>,
	chainOf: (file: string) => Promise<{chain: string[]}> = headerChain,
): Promise<string[]> {
	// Many at once: a libvirt pool's folder holds every domain's images, and a take of one
	// domain read the 120 of 30 others one after another (80 ms of the bench's 330 ms take).
	const stray = await mapLimited(
		candidates.filter(file => !images.has(file)),
		STRAY_READS,
		async file => {
			const {chain} = await chainOf(file);
			return chain.length > 1 && chain.slice(1).some(layer => images.has(layer)) ? [file] : [];
		},
	);
	return stray.flat().sort();
}
