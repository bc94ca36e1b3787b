import {chmod, chown, mkdtemp, rm} from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import {settleAll} from '../../core/chain.js';
import {errorMessage, SnapdeckError} from '../../core/errors.js';
import {partsBytes} from '../../core/progress.js';
import type {AuditView, BackupDriver, BackupTarget} from '../hypervisor.js';
import type {QemuImg} from '../qemu/qemu-img.js';
import {withXmlFile} from './xml-file.js';
import type {Virsh} from './virsh.js';
import {pullSocket, qemuOwner} from './xml.js';

export const escapeXml = (text: string) => text.replace(/[<>&'"]/g, ch => `&#${ch.charCodeAt(0)};`);

/** A checkpoint of every target disk, made by `backup-begin` at the instant the backup starts. */
export const checkpointXml = (name: string, targets: readonly BackupTarget[]) =>
	`<domaincheckpoint><name>${escapeXml(name)}</name><disks>${targets.map(target => `<disk name='${escapeXml(target.disk)}' checkpoint='bitmap'/>`).join('')}</disks></domaincheckpoint>`;

/** What a libvirt backup job needs of its domain: its name, virsh's --domain words, and the tools. */
export interface DomainJobs {
	readonly vm: string;
	readonly domain: readonly string[];
	readonly virsh: Virsh;
	readonly qemuImg: QemuImg;
}

type CopyRequest = Parameters<BackupDriver['copy']>[0];

/** Where a pull-mode backup's NBD socket is made: a private folder of this name in the temp directory. */
const SOCKET_DIR_PREFIX = 'snapdeck-nbd-';

/** The dirty bitmap an incremental pull job exports beside each disk (an NBD meta context of its export). */
const exportBitmap = (disk: string) => `backup-${disk}`;

/**
 * Ends a pull-mode backup job a killed snapdeck left running in the domain (it never ends by
 * itself, and would refuse every later backup), with its socket's folder. Only one of ours,
 * known by its socket's folder: this runs under the VM's lock, so none of ours is at work.
 */
export async function abandonedPull(d: DomainJobs) {
	const socket = pullSocket(await d.virsh.run(['backup-dumpxml', ...d.domain]).catch(() => ''));
	if (
		socket === null ||
		path.dirname(path.dirname(socket)) !== os.tmpdir() ||
		!path.basename(path.dirname(socket)).startsWith(SOCKET_DIR_PREFIX)
	)
		return;
	await d.virsh.run(['domjobabort', ...d.domain]).catch(() => undefined);
	await rm(path.dirname(socket), {recursive: true, force: true});
}

/** A pull-mode backup job running in the domain: each disk exported on `socket` (by its name) as it was when the job began. */
interface PullJob {
	readonly socket: string;
	/** Ends the job (libvirt then removes the socket), and removes the socket's folder and the scratch files. */
	end(): Promise<void>;
}

/**
 * Begins a pull-mode backup: QEMU exports each disk as it was at this instant over NBD on a unix
 * socket (what the guest overwrites meanwhile is kept in a scratch file), with the dirty bitmap of
 * checkpoint `since` for an incremental; the checkpoint `bitmap` is made at the same instant.
 * Resolves to why not, having changed nothing, where it cannot begin.
 */
async function beginPull(d: DomainJobs, {bitmap, since, targets, signal}: CopyRequest): Promise<PullJob | string> {
	signal?.throwIfAborted();
	// QEMU makes the socket, and qemu-img (this process) must be able to connect to it: so root
	// (the folder then given to QEMU's user), or QEMU's own user.
	const owner = qemuOwner(await d.virsh.run(['dumpxml', ...d.domain]));
	const me = process.getuid?.() ?? -1;
	if (owner === null)
		return "libvirt does not say which user runs the domain's QEMU, so a socket for it cannot be made";
	if (me !== 0 && me !== owner.uid)
		return `snapdeck runs as neither root nor the user of the domain's QEMU (uid ${owner.uid}), so it could not connect to QEMU's socket`;
	// Private (0700).
	const folder = await mkdtemp(path.join(os.tmpdir(), SOCKET_DIR_PREFIX));
	const socket = path.join(folder, 'nbd.sock');
	// The copy-before-write store of what the guest overwrites meanwhile: beside the point file, in
	// the repository (a name ending in .qcow2 that no point names, so a killed run's is cleaned up).
	const scratch = (file: string) => file.replace(/\.qcow2$/, '.scratch.qcow2');
	const removeFiles = async () => {
		await rm(folder, {recursive: true, force: true});
		for (const target of targets) await rm(scratch(target.file), {force: true});
	};
	const incremental = since === null ? '' : `<incremental>${escapeXml(since)}</incremental>`;
	const backupXml = `<domainbackup mode='pull'>${incremental}<server transport='unix' socket='${escapeXml(socket)}'/><disks>${targets
		.map(
			target =>
				`<disk name='${escapeXml(target.disk)}' backup='yes' type='file' exportname='${escapeXml(target.disk)}'${since === null ? '' : ` exportbitmap='${escapeXml(exportBitmap(target.disk))}'`}><scratch file='${escapeXml(scratch(target.file))}'/></disk>`,
		)
		.join('')}</disks></domainbackup>`;
	try {
		if (me === 0) await chown(folder, owner.uid, owner.gid);
		await withXmlFile(backupXml, backupFile =>
			withXmlFile(checkpointXml(bitmap, targets), checkpointFile =>
				d.virsh.run(['backup-begin', ...d.domain, '--backupxml', backupFile, '--checkpointxml', checkpointFile]),
			),
		);
	} catch (error) {
		await removeFiles();
		return `libvirt would not begin a pull-mode backup: ${errorMessage(error)}`;
	}
	return {
		socket,
		async end() {
			// A pull job ends when its reader says so; libvirt removes the socket and the scratch files.
			await d.virsh.run(['domjobabort', ...d.domain]).catch(() => undefined);
			await removeFiles();
		},
	};
}

/**
 * A pull-mode backup: each target written from its disk's export, every disk at once, each read
 * at most its share of `bytesPerSecond`. A full is one read of the whole export (compressed as it
 * is read where asked); an incremental is a new file over the previous point's holding the
 * ranges the export's dirty bitmap marks, each read from the export (not compressed: the caller
 * compresses it after). With `audit`, the job is kept running and the exports are answered as
 * the audit's view of the disks at the backup's instant; releasing the view ends the job.
 * Resolves to why not, having changed nothing, where the job cannot begin.
 */
export async function pullBackup(
	d: DomainJobs,
	request: CopyRequest,
): Promise<string | {compressed: boolean; audit?: AuditView}> {
	const job = await beginPull(d, request);
	if (typeof job === 'string') return job;
	const {targets, since, signal, audit} = request;
	let kept = false;
	try {
		const compressed = since === null && (request.compress ?? false);
		await (since === null ? pullFull(d, job, request, compressed) : pullIncremental(d, job, request)).catch(
			(error: unknown) => {
				throw signal?.aborted
					? new SnapdeckError('failed', `libvirt's backup of ${d.vm} did not complete: it was cancelled`)
					: error;
			},
		);
		if (!audit) return {compressed};
		kept = true;
		return {
			compressed,
			audit: {
				dir: audit.dir,
				sources: Object.fromEntries(
					targets.map(target => [target.disk, {kind: 'nbd' as const, socket: job.socket, export: target.disk}]),
				),
				release: () => job.end(),
			},
		};
	} finally {
		if (!kept) await job.end();
	}
}

/** Every whole export into its new point file, compressed as it is read where `compress`. */
async function pullFull(d: DomainJobs, job: PullJob, request: CopyRequest, compress: boolean) {
	const {targets, bytesPerSecond, signal, onBytes} = request;
	const progress = partsBytes(targets, target => target.virtualSize, onBytes);
	const share = bytesPerSecond === undefined ? undefined : bytesPerSecond / targets.length;
	await settleAll(
		targets.map(target =>
			d.qemuImg.copyFromNbd(job.socket, target.disk, target.file, {
				signal,
				compress,
				bytesPerSecond: share,
				onProgress: progress.of(target),
			}),
		),
	);
	onBytes(progress.total, progress.total);
}

/** Each disk's dirty ranges, read from its export into a new file over the previous point's file. */
async function pullIncremental(d: DomainJobs, job: PullJob, request: CopyRequest) {
	const {targets, bytesPerSecond, signal, onBytes} = request;
	const ranges = new Map(
		await Promise.all(
			targets.map(
				async target =>
					[target, await d.qemuImg.dirtyRanges(job.socket, target.disk, exportBitmap(target.disk))] as const,
			),
		),
	);
	const dirty = (target: BackupTarget) => ranges.get(target)!.reduce((sum, range) => sum + range.length, 0);
	const progress = partsBytes(targets, dirty, onBytes);
	const share = bytesPerSecond === undefined ? undefined : bytesPerSecond / targets.length;
	await settleAll(
		targets.map(async target => {
			// A disk the previous point lacks: all of it.
			if (target.backing === null)
				return d.qemuImg.copyFromNbd(job.socket, target.disk, target.file, {signal, bytesPerSecond: share});
			// Named relative to it, as every point file's backing file is.
			await d.qemuImg.create(target.file, {
				backing: path.relative(path.dirname(target.file), target.backing),
			});
			// Before a byte of the disk is in it: a point is its owner's alone.
			await chmod(target.file, 0o600);
			let done = 0;
			for (const range of ranges.get(target)!) {
				signal?.throwIfAborted();
				await d.qemuImg.copyRangeFromNbd(job.socket, target.disk, target.file, range, {
					signal,
					bytesPerSecond: share,
				});
				done += range.length;
				progress.of(target)(done / Math.max(1, dirty(target)));
			}
		}),
	);
	onBytes(progress.total, progress.total);
}
