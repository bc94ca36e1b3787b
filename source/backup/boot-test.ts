import {rm} from 'node:fs/promises';
import {chainHeaderProblems} from './point-headers.js';
import {writeFileAtomic} from '../adapters/state/atomic-file.js';
import {stateFolder} from '../adapters/safe-fs.js';
import {stateDir} from '../adapters/state/operation-store.js';
import path from 'node:path';
import {bootFiles, bootFilesOf, findPoint, type BackupPoint, type BootTest} from '../core/backup-manifest.js';
import {SnapdeckError} from '../core/errors.js';
import type {PlanEvent} from '../core/plan.js';
import {localRunner} from '../adapters/exec.js';
import {type BootCheck, type BootResult, type Hypervisor, roleOf} from '../adapters/hypervisor.js';
import {QemuImg} from '../adapters/qemu/qemu-img.js';
import {byteProgress, type JobContext} from '../core/progress.js';
import type {Repository} from './repository.js';
import {writeReceipt} from './receipts.js';
import {formatWait} from '../core/units.js';

export interface BootTestOptions {
	readonly point: string;
	readonly command: string;
	/** How long the guest has to prove it is up; BOOT_TIMEOUT_MS by default. */
	readonly timeoutMs?: number;
	/** A pattern the console must show, instead of the agent answering (the VM's policy: boot.pattern). */
	readonly pattern?: string | null;
	/** A program and arguments to run through the agent once it answers (the policy: boot.check). */
	readonly check?: readonly string[] | null;
	readonly signal?: AbortSignal;
	readonly onEvent?: (event: PlanEvent) => void;
	/** Told what went wrong after the boot test itself was judged (a receipt that could not be written). */
	readonly onWarning?: (text: string) => void;
	readonly now?: Date;
}

/** 90 s: a Debian kernel boots in about 6 s under software emulation here, a full distribution in far less than this on KVM. */
export const BOOT_TIMEOUT_MS = 90_000;

/**
 * Boots a backup point to prove it starts: each disk a temporary overlay on the point's file (the
 * point is only read), a throwaway VM of the adapter's, the verdict with its console log and
 * screenshot recorded with the point. The overlays and the VM are gone when it resolves, whatever
 * happened; after a kill, recover (or the next job on the VM's backups) removes them and the VM.
 */
export async function bootTestPoint(
	repo: Repository,
	hypervisor: Hypervisor,
	vm: string,
	options: BootTestOptions,
	job: JobContext,
): Promise<BootTest> {
	const bootTests = roleOf(
		hypervisor,
		'bootTests',
		'boot a backup point',
		'verify it without --boot, or restore it as a new VM and start that',
	);
	const {point, work, disks} = await bootOverlays(repo, vm, options.point, job);
	job.step('overlays');
	const check: BootCheck = {
		timeoutMs: options.timeoutMs ?? BOOT_TIMEOUT_MS,
		pattern: options.pattern ?? null,
		command: options.check ?? null,
	};
	options.onEvent?.({
		type: 'step',
		index: 0,
		total: 1,
		summary: `boot point ${point.id} of ${vm} in a throwaway VM (${check.pattern ? `until the console shows /${check.pattern}/` : 'until the guest agent answers'}, at most ${formatWait(check.timeoutMs)})`,
		resumed: false,
	});
	const result = await bootTests.bootThrowaway(vm, point.definition, disks, work, check, {
		signal: options.signal,
		onCopied: byteProgress(options.onEvent),
		throwaway: {
			token: job.token,
			register: name => job.registers({kind: 'throwaway', connection: hypervisor.uri, name}),
		},
		onStarted: () => job.step('booting'),
		// The point's own kernel and initramfs: a boot test proves the point, never the live VM's folder.
		bootFiles: bootFilesOf(point, file => repo.resolve(vm, file)),
	});
	job.step('judged');
	const record = await recordBootTest(repo, vm, point, result, options);
	options.onEvent?.({type: 'done', index: 0});
	return record;
}

/** The point to boot, checked, and an overlay on each of its disks' files in a work folder of the job's. */
async function bootOverlays(
	repo: Repository,
	vm: string,
	id: string,
	job: JobContext,
): Promise<{point: BackupPoint; work: string; disks: Record<string, string>}> {
	const manifest = await repo.read(vm);
	const point = findPoint(manifest, id);
	if (point.state !== 'complete')
		throw new SnapdeckError(
			'refused',
			`point ${point.id} is partial (an interrupted backup): there is nothing to boot`,
		);
	// QEMU follows the point files' headers: they must name what the manifest says, as for a restore.
	const problems = await chainHeaderProblems(repo, manifest, point.id);
	if (problems.length > 0)
		throw new SnapdeckError(
			'failed',
			`cannot boot point ${point.id}: ${problems.join('; ')}`,
			`run 'snapdeck verify ${vm}'`,
		);
	await job.begin(point.id, 'boot test');
	// The overlays, sockets and logs of the throwaway VM: a work folder of the job's, gone when it ends (or at recover after a kill).
	const work = await job.workFolder(
		await stateFolder(stateDir(repo.vmDir(vm)), `the state folder of ${vm}'s backups`),
		'boot',
	);
	const qemuImg = new QemuImg(localRunner);
	const disks: Record<string, string> = {};
	for (const file of point.files) {
		disks[file.disk] = path.join(work, `${file.disk}.qcow2`);
		await qemuImg.create(disks[file.disk]!, {backing: repo.resolve(vm, file.file)});
	}
	return {point, work, disks};
}

/** The verdict with its evidence, kept with the point, and a receipt for a boot that passed. */
async function recordBootTest(
	repo: Repository,
	vm: string,
	point: BackupPoint,
	result: BootResult,
	options: BootTestOptions,
): Promise<BootTest> {
	// The evidence, kept with the point: no more readable than the point files.
	const files = bootFiles(point.id);
	// Its folders real folders and its files replaced, never written through a link someone put there (the guest chooses what the console says).
	await stateFolder(path.dirname(repo.resolve(vm, files.folder)), `the boot tests' folder of ${vm}'s backups`);
	await stateFolder(repo.resolve(vm, files.folder), `the boot test's folder of point ${point.id}`);
	await writeFileAtomic(repo.resolve(vm, files.console), result.console, {mode: 0o600});
	if (result.screenshot) await writeFileAtomic(repo.resolve(vm, files.screenshot), result.screenshot, {mode: 0o600});
	else await rm(repo.resolve(vm, files.screenshot), {force: true});
	const record: BootTest = {
		at: (options.now ?? new Date()).toISOString(),
		ok: result.ok,
		message: result.message,
		seconds: Math.round(result.seconds * 10) / 10,
		console: files.console,
		screenshot: result.screenshot ? files.screenshot : null,
	};
	const fresh = await repo.read(vm);
	await repo.write({
		...fresh,
		points: fresh.points.map(candidate => (candidate.id === point.id ? {...candidate, boot: record} : candidate)),
	});
	if (record.ok)
		await writeReceipt(
			repo,
			vm,
			point,
			'boot-test',
			`booted in a throwaway VM from the point's own disks${point.bootFiles.length > 0 ? ', kernel and initramfs' : ''}: ${record.message}`,
			new Date(Date.parse(record.at) - record.seconds * 1000),
			options.now,
		).catch((error: Error) => options.onWarning?.(`the point booted, and no receipt was written: ${error.message}`));
	return record;
}
