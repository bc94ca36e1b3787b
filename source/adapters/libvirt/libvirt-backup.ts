import path from 'node:path';
import {SnapdeckError} from '../../core/errors.js';
import type {VmState} from '../../core/model.js';
import type {BackupDriver, BackupTarget} from '../hypervisor.js';
import type {Host} from '../host.js';
import type {QemuImg} from '../qemu/qemu-img.js';
import {abandonedPull, checkpointXml, type DomainJobs, escapeXml, pullBackup} from './libvirt-pull.js';
import {withXmlFile} from './xml-file.js';
import type {Virsh} from './virsh.js';

/** Why a domain on a remote host is not audited. */
const remoteNoAudit = (vm: string) =>
	`${vm} is on a remote host, whose disks come here over ssh: an audit would read each one whole across the network a second time`;

/** A domain's disks with their virtual sizes, as a backup driver lists them. */
export const sizedDisks = (state: VmState) =>
	state.definition.disks.map(disk => ({target: disk.target, virtualSize: state.images[disk.file]?.virtualSize ?? 0}));

/**
 * Runs `work` with a new staging directory beside the domain's disks on a remote `host` and the
 * path there of each target's file (`<disk>.qcow2`); the directory goes afterwards, whatever happens.
 */
async function viaStaging(
	host: Host,
	state: VmState,
	targets: readonly BackupTarget[],
	work: (staging: string, files: string[]) => Promise<void>,
): Promise<void> {
	const staging = await host.makeTempDir(path.posix.dirname(state.definition.disks[0]?.file ?? '/var/tmp/x'));
	try {
		await work(
			staging,
			targets.map(target => path.posix.join(staging, `${target.disk}.qcow2`)),
		);
	} finally {
		await host.removeDir(staging).catch(() => undefined);
	}
}

/** `virsh domjobinfo --rawstats`: "Job type: 2" then "key: value" lines. */
export function parseJobStats(text: string): {type: number; values: Record<string, string>} {
	const values: Record<string, string> = {};
	for (const line of text.split('\n')) {
		const match = /^\s*([^:]+):\s*(.*)$/.exec(line);
		if (match) values[match[1]!.trim()] = match[2]!.trim();
	}
	return {type: Number(values['Job type'] ?? 0), values};
}

// virDomainJobType: 0 none, 1 bounded, 2 unbounded, 3 completed, 4 failed, 5 cancelled.
const JOB_RUNNING = new Set([1, 2]);
// virDomainJobOperation, in words.
const JOB_OPERATIONS: Record<number, string> = {
	1: 'a start',
	2: 'a save',
	3: 'a restore',
	4: 'an incoming migration',
	5: 'a migration',
	6: 'a snapshot',
	7: 'a snapshot revert',
	8: 'a dump',
	9: 'a backup',
	10: 'a snapshot deletion',
};

/**
 * Backups of a running libvirt domain: `backup-begin` with a checkpoint created in the same call
 * (its bitmap is the next incremental's), `domjobabort` on cancel.
 * - An incremental, and a full asked for plain, unaudited, use libvirt's push mode: QEMU writes the files,
 *   progress comes from `domjobinfo`. libvirt makes an incremental's file an overlay on the live
 *   disk; it is re-pointed (header only) at the previous point's file, as LAB.md found necessary.
 * - A compressed full on this machine uses pull mode: QEMU exports each disk as it was at the start
 *   over NBD on a unix socket, and `qemu-img convert -c` reads it once, compressing as it goes (push
 *   mode cannot compress: its plain file would be rewritten in a second pass, bench/backup-peer.mjs).
 *   Where pull mode cannot begin (a QEMU confined from the socket's folder), it is push and compress after.
 * - An audited backup on this machine, full or incremental, uses pull mode too (libvirt-pull.ts):
 *   the exports hold each disk whole as it was at the backup's instant, so the job is kept until
 *   the audit has compared them with the point's chain. Where pull mode cannot begin, it is refused.
 */
export function libvirtBackupDriver(
	vm: string,
	state: VmState,
	definition: string,
	virsh: Virsh,
	qemuImg: QemuImg,
	remote?: Host,
): BackupDriver {
	const domain = ['--domain', vm];
	const d: DomainJobs = {vm, domain, virsh, qemuImg};
	const checkpoints = async () =>
		(await virsh.run(['checkpoint-list', ...domain, '--name']))
			.split('\n')
			.map(line => line.trim())
			.filter(Boolean);
	const disks = sizedDisks(state);
	return {
		disks,
		definition,
		// A pull-mode backup keeps the disks at its instant for as long as the audit reads them; that read is local only.
		...(remote ? {noAudit: remoteNoAudit(vm)} : {}),
		// Pull mode reads the disks on this machine: for a remote host the files come here plain, and are compressed here.
		compresses: !remote,
		close: async () => undefined,
		async bitmaps(prefix) {
			const names = (await checkpoints()).filter(name => name.startsWith(prefix));
			return new Map(disks.map(disk => [disk.target, names.map(name => ({name, usable: true}))]));
		},
		async removeBitmap(name) {
			if ((await checkpoints()).includes(name))
				await virsh.run(['checkpoint-delete', ...domain, '--checkpointname', name]);
		},
		async copy(request) {
			if (!remote) await abandonedPull(d);
			await noOtherJob(d);
			if (!remote) {
				const full = request.since === null && request.targets.every(target => target.backing === null);
				const pulled = request.audit || (request.compress && full) ? await pullBackup(d, request) : null;
				if (pulled !== null && typeof pulled !== 'string') return pulled;
				if (request.audit)
					throw new SnapdeckError(
						'refused',
						`cannot audit this backup of ${vm}: its disks are kept at the backup's instant only by a pull-mode backup, and ${pulled}`,
						'back it up without --audit',
					);
				await backUp(
					d,
					request,
					request.targets.map(target => target.file),
				);
				await repoint(d, request.targets);
				return {compressed: false, ...(typeof pulled === 'string' ? {why: pulled} : {})};
			}
			// libvirt writes the files on its own host, into a staging directory there; each is then copied here.
			await viaStaging(remote, state, request.targets, async (staging, written) => {
				// QEMU, which may run as its own user there, opens the files libvirt makes in it.
				await remote.runner.run('chmod', ['0711', '--', staging]);
				await backUp(d, request, written);
				for (const [index, target] of request.targets.entries()) {
					const size = Number((await remote.runner.run('stat', ['-c', '%s', '--', written[index]!])).stdout.trim());
					await remote.fetch(written[index]!, target.file, {
						signal: request.signal,
						onBytes: bytes => request.onBytes(bytes, size),
					});
				}
			});
			await repoint(d, request.targets);
			return {compressed: false};
		},
	};
}

/**
 * Refuses at once when the domain runs a job already (another tool's backup, a migration):
 * libvirt would wait 30 s for it and then say only that it timed out.
 */
async function noOtherJob(d: DomainJobs) {
	const {type, values} = parseJobStats(await d.virsh.run(['domjobinfo', ...d.domain, '--rawstats']));
	if (!JOB_RUNNING.has(type)) return;
	const what = JOB_OPERATIONS[Number(values['operation'])] ?? 'a job';
	throw new SnapdeckError(
		'refused',
		`cannot back up ${d.vm}: libvirt is running ${what} on it (another tool's, or one started by hand)`,
		`wait for it to end ('virsh domjobinfo ${d.vm}' shows it), or end it with 'virsh domjobabort ${d.vm}', then back up again`,
		'busy',
	);
}

/** Runs libvirt's push backup into `files` (one per target, on libvirt's host), with progress and cancel. */
async function backUp(
	d: DomainJobs,
	{bitmap, since, targets, signal, onBytes}: Parameters<BackupDriver['copy']>[0],
	files: readonly string[],
) {
	const backupXml = `<domainbackup mode='push'>${since === null ? '' : `<incremental>${escapeXml(since)}</incremental>`}<disks>${targets
		.map(
			(target, index) =>
				`<disk name='${escapeXml(target.disk)}' backup='yes' type='file'><target file='${escapeXml(files[index]!)}'/><driver type='qcow2'/></disk>`,
		)
		.join('')}</disks></domainbackup>`;
	signal?.throwIfAborted();
	await withXmlFile(backupXml, backupFile =>
		withXmlFile(checkpointXml(bitmap, targets), checkpointFile =>
			d.virsh.run(['backup-begin', ...d.domain, '--backupxml', backupFile, '--checkpointxml', checkpointFile]),
		),
	);
	const abort = () => void d.virsh.run(['domjobabort', ...d.domain]).catch(() => undefined);
	signal?.addEventListener('abort', abort, {once: true});
	try {
		for (;;) {
			const {type, values} = parseJobStats(await d.virsh.run(['domjobinfo', ...d.domain, '--rawstats']));
			if (!JOB_RUNNING.has(type)) break;
			onBytes(Number(values['disk_processed'] ?? 0), Number(values['disk_total'] ?? 0));
			await new Promise(resolve => setTimeout(resolve, 250));
		}
		const {type, values} = parseJobStats(await d.virsh.run(['domjobinfo', ...d.domain, '--completed', '--rawstats']));
		if (type !== 3) {
			const why =
				values['errmsg'] ??
				(type === 5 || signal?.aborted ? 'it was cancelled' : `libvirt ended the job with state ${type}`);
			throw new SnapdeckError('failed', `libvirt's backup of ${d.vm} did not complete: ${why}`);
		}
		onBytes(Number(values['disk_total'] ?? 0), Number(values['disk_total'] ?? 0));
	} finally {
		signal?.removeEventListener('abort', abort);
	}
}

/** An incremental's file names the live disk as its backing file: re-point it (header only) at the previous point's. */
async function repoint(d: DomainJobs, targets: Parameters<BackupDriver['copy']>[0]['targets']) {
	for (const target of targets) {
		if (target.backing !== null)
			await d.qemuImg.rebase(target.file, path.relative(path.dirname(target.file), target.backing), {unsafe: true});
	}
}

/**
 * Backups of a shut-off domain on a remote host: qemu-img there copies each disk into a staging
 * directory beside it (holding the image's lock meanwhile, so the domain cannot start and write
 * it), the copy comes here over ssh, the staging directory goes. Always a full (`untracked`).
 */
export function remoteCopyDriver(
	vm: string,
	state: VmState,
	definition: string,
	host: Host,
	qemuImg: QemuImg,
	virsh: Virsh,
	untracked: string,
): BackupDriver {
	const sources = new Map(state.definition.disks.map(disk => [disk.target, disk.file]));
	return {
		disks: sizedDisks(state),
		definition,
		untracked,
		noAudit: remoteNoAudit(vm),
		compresses: false,
		close: async () => undefined,
		bitmaps: async () => new Map(),
		removeBitmap: async () => undefined,
		async copy({targets, quiesce, signal, onBytes}) {
			if (quiesce)
				throw new SnapdeckError(
					'refused',
					'cannot quiesce a backup on a libvirt connection yet',
					'take a quiesced snapshot first (snapdeck snapshot VM NAME --quiesce) and back up unquiesced, or leave out --quiesce',
				);
			await viaStaging(host, state, targets, async (_staging, copies) => {
				for (const [index, target] of targets.entries()) {
					await qemuImg.convert(sources.get(target.disk)!, copies[index]!, {
						signal,
						onProgress: fraction => onBytes(Math.round(fraction * target.virtualSize), target.virtualSize),
					});
					await host.fetch(copies[index]!, target.file, {signal});
				}
			});
			// One disk after another: a domain started in between would give a point whose disks are from different moments.
			const now = (await virsh.run(['domstate', '--domain', vm])).trim();
			if (now !== 'shut off')
				throw new SnapdeckError(
					'failed',
					`${vm} was started during its backup (it is ${now} now), so its disks were not copied at one moment`,
					'back it up again, running or shut off',
				);
		},
	};
}
