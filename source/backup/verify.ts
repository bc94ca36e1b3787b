import {lstat, rm} from 'node:fs/promises';
import {archiveProblems as archiveHeaderProblems, headerProblems} from './point-headers.js';
import path from 'node:path';
import {
	archiveFile,
	findPoint,
	pointChain,
	type BackupFile,
	type BackupPoint,
	type Manifest,
} from '../core/backup-manifest.js';
import {errorMessage, SnapdeckError} from '../core/errors.js';
import type {PlanEvent} from '../core/plan.js';
import {formatBytes} from '../core/units.js';
import {localRunner} from '../adapters/exec.js';
import {fileExists} from '../adapters/file-checks.js';
import {isUnwritable, stateFolder} from '../adapters/safe-fs.js';
import {QemuImg} from '../adapters/qemu/qemu-img.js';
import {byteProgress, type JobContext} from '../core/progress.js';
import type {Repository} from './repository.js';
import {sha256File} from './hashing.js';
import {writeReceipt} from './receipts.js';

export interface VerifyOptions {
	/** One point; every complete point when absent. */
	readonly point?: string;
	/** Also restore each point to a scratch image and compare it with the backup chain. */
	readonly restoreTest?: boolean;
	readonly command: string;
	readonly signal?: AbortSignal;
	/** The time recorded as the verification's (default: now). */
	readonly now?: Date;
	/** When it began (the receipts' start). */
	readonly began?: Date;
	/** Told each file as it is checked. */
	readonly onFile?: (file: string) => void;
	/** Told what could not be done but did not stop the verification (a full or read-only repository). */
	readonly onWarning?: (text: string) => void;
	/** A step, then progress in bytes read (every file hashed, and each disk a restore test writes), as a plan's events. */
	readonly onEvent?: (event: PlanEvent) => void;
}

export interface PointVerdict {
	readonly id: string;
	readonly ok: boolean;
	/** What is wrong, each naming the file; empty when ok. */
	readonly problems: readonly string[];
}

/**
 * Checks points against the manifest: every file of the point and of the points it builds on
 * exists, has the recorded sha256 and passes `qemu-img check`; with restoreTest, each disk is
 * restored to a scratch image that must read exactly as the backup chain. The verdict is recorded
 * in the manifest.
 */
export async function verifyBackups(
	repo: Repository,
	vm: string,
	options: VerifyOptions,
	job: JobContext,
	unwritable = false,
): Promise<PointVerdict[]> {
	const manifest = await repo.read(vm);
	const points =
		options.point === undefined
			? manifest.points.filter(point => point.state === 'complete')
			: [findPoint(manifest, options.point)];
	if (points.length === 0)
		throw new SnapdeckError(
			'not-found',
			`there are no backups of ${vm} in ${repo.root}`,
			`take one with 'snapdeck backup ${vm}'`,
			'no-backups',
		);
	const qemuImg = new QemuImg(localRunner);
	const total = bytesToRead(manifest, points, options.restoreTest ?? false);
	const progress = byteProgress(options.onEvent);
	let done = 0;
	const read = (bytes: number) => progress((done += bytes), total);
	options.onEvent?.({
		type: 'step',
		index: 0,
		total: 1,
		summary: `verify ${points.length === 1 ? `point ${points[0]!.id}` : `${points.length} points`} of ${vm}: read ${formatBytes(total)}${options.restoreTest ? ', with a restore test' : ''}`,
		resumed: false,
	});
	const run: VerifyRun = {
		repo,
		vm,
		manifest,
		qemuImg,
		job,
		options,
		read,
		fileProblems: fileChecker(repo, vm, qemuImg, options, read),
	};
	const verdicts: PointVerdict[] = [];
	job.step('hashing');
	for (const point of points) verdicts.push(await verifyPoint(run, point));
	options.onEvent?.({type: 'done', index: 0});
	if (!unwritable) await recordVerdicts(repo, vm, verdicts, options);
	return verdicts;
}

/** Progress in bytes: each file of the points' chains read once, their boot files and archives, and what a restore test writes. */
function bytesToRead(manifest: Manifest, points: readonly BackupPoint[], restoreTest: boolean): number {
	const chainFiles = new Map(
		points.flatMap(point => {
			try {
				return pointChain(manifest, point.id).flatMap(member =>
					member.files.map(file => [file.file, file.size] as const),
				);
			} catch {
				return [];
			}
		}),
	);
	return (
		[...chainFiles.values()].reduce((sum, size) => sum + size, 0) +
		points.reduce((sum, point) => sum + point.bootFiles.reduce((inner, boot) => inner + boot.size, 0), 0) +
		points.reduce(
			(sum, point) =>
				sum +
				(point.archive ?? []).reduce((inner, image) => inner + image.size, 0) +
				(restoreTest ? point.files.reduce((inner, file) => inner + file.virtualSize, 0) : 0),
			0,
		)
	);
}

/** What the points of one verification share: each point file is checked once, however many points build on it. */
interface VerifyRun {
	readonly repo: Repository;
	readonly vm: string;
	readonly manifest: Manifest;
	readonly qemuImg: QemuImg;
	readonly job: JobContext;
	readonly options: VerifyOptions;
	/** Told the bytes each read brought. */
	readonly read: (bytes: number) => void;
	readonly fileProblems: (file: BackupFile) => Promise<readonly string[]>;
}

/** A point file's problems: there, backed as recorded, its sha256 and qemu-img check; found once per file and kept. */
function fileChecker(
	repo: Repository,
	vm: string,
	qemuImg: QemuImg,
	options: VerifyOptions,
	read: (bytes: number) => void,
) {
	const found = new Map<string, string[]>();
	return async (file: BackupFile): Promise<readonly string[]> => {
		const known = found.get(file.file);
		if (known) return known;
		options.signal?.throwIfAborted();
		options.onFile?.(file.file);
		const absolute = repo.resolve(vm, file.file);
		const problems: string[] = [];
		if (!(await fileExists(absolute))) problems.push(`${file.file} is missing`);
		else {
			problems.push(...(await headerProblems(repo, vm, [file])));
			if ((await sha256File(absolute, options.signal, read)) !== file.sha256)
				problems.push(`${file.file} does not match its checksum (changed or damaged since it was written)`);
			const check = await qemuImg
				.check(absolute)
				.catch((error: Error) => ({'check-errors': 1, corruptions: 0, leaks: 0, message: error.message}));
			if (check['check-errors'] > 0 || (check.corruptions ?? 0) > 0)
				problems.push(
					`${file.file} fails qemu-img check (${check.corruptions ?? 0} corruptions, ${check['check-errors']} errors)`,
				);
		}
		found.set(file.file, problems);
		return problems;
	};
}

/** One point's verdict: its chain's files, its archive, its boot files, and with restoreTest a restore of each disk. */
async function verifyPoint(run: VerifyRun, point: BackupPoint): Promise<PointVerdict> {
	const {repo, vm, options} = run;
	const problems: string[] = [];
	if (point.state !== 'complete') problems.push(`point ${point.id} is partial (an interrupted backup)`);
	let chain: BackupPoint[] = [];
	try {
		chain = pointChain(run.manifest, point.id);
	} catch (error) {
		problems.push(errorMessage(error));
	}
	for (const member of chain) {
		for (const file of member.files) {
			problems.push(
				...(await run.fileProblems(file)).map(problem =>
					member === point ? problem : `${problem}, which point ${point.id} builds on`,
				),
			);
		}
	}
	if (point.archive !== null) problems.push(...(await archiveProblems(repo, vm, point, options.signal, run.read)));
	problems.push(...(await bootFileProblems(repo, vm, point, options.signal, run.read)));
	if (options.restoreTest && problems.length === 0)
		problems.push(...(await restoreTest(repo, vm, point, run.qemuImg, run.job, options.signal, run.read)));
	return {id: point.id, ok: problems.length === 0, problems};
}

/** A whole-VM archive's images: there, backed as recorded, and unchanged since they were written. */
async function archiveProblems(
	repo: Repository,
	vm: string,
	point: BackupPoint,
	signal?: AbortSignal,
	onBytes?: (bytes: number) => void,
): Promise<string[]> {
	const problems = await archiveHeaderProblems(repo, vm, point);
	for (const image of point.archive ?? []) {
		const file = archiveFile(point.id, image.name);
		if (problems.some(problem => problem.startsWith(`${file} `))) continue;
		if ((await sha256File(repo.resolve(vm, file), signal, onBytes)) !== image.sha256)
			problems.push(`${file} does not match its checksum (changed or damaged since it was written)`);
	}
	return problems;
}

/** A point's boot files (kernel, initramfs, UEFI variables): there, regular files, unchanged since they were written. */
async function bootFileProblems(
	repo: Repository,
	vm: string,
	point: BackupPoint,
	signal?: AbortSignal,
	onBytes?: (bytes: number) => void,
): Promise<string[]> {
	const problems: string[] = [];
	for (const boot of point.bootFiles) {
		const absolute = repo.resolve(vm, boot.file);
		const found = await lstat(absolute).catch(() => null);
		if (!found?.isFile())
			problems.push(`${boot.file} (the ${boot.role} ${vm} boots) is ${found ? 'not a file' : 'missing'}`);
		else if ((await sha256File(absolute, signal, onBytes)) !== boot.sha256)
			problems.push(`${boot.file} (the ${boot.role} ${vm} boots) does not match its checksum`);
	}
	return problems;
}

/** The verdicts into the manifest and the journal; a repository that cannot take them is a warning, not a failed verification. */
async function recordVerdicts(repo: Repository, vm: string, verdicts: readonly PointVerdict[], options: VerifyOptions) {
	const at = (options.now ?? new Date()).toISOString();
	const failed = verdicts.filter(verdict => !verdict.ok);
	try {
		const fresh = await repo.read(vm);
		await repo.write({
			...fresh,
			points: fresh.points.map(point => {
				const verdict = verdicts.find(candidate => candidate.id === point.id);
				return verdict
					? {
							...point,
							verified: {
								at,
								ok: verdict.ok,
								restoreTest: options.restoreTest ?? false,
								message: verdict.problems.join('; ') || 'ok',
							},
						}
					: point;
			}),
		});
		// A restore test that passed is a restore proved: a signed receipt says so, beside the point.
		if (options.restoreTest) {
			for (const verdict of verdicts.filter(candidate => candidate.ok)) {
				const point = fresh.points.find(candidate => candidate.id === verdict.id)!;
				await writeReceipt(
					repo,
					vm,
					point,
					'restore-test',
					'every file of the point and of the points it builds on matched its sha256 and passed qemu-img check; each disk was restored to a scratch image that qemu-img compare found identical to the backup chain',
					options.began ?? new Date(at),
					options.now,
				).catch((error: Error) => options.onWarning?.(`no receipt was written: ${error.message}`));
			}
		}
		await repo.journal(vm, {
			action: 'verify',
			snapshot: verdicts.map(verdict => verdict.id).join(', '),
			outcome: failed.length > 0 ? 'failed' : 'done',
			message:
				failed.length > 0
					? failed.map(verdict => `${verdict.id}: ${verdict.problems.join('; ')}`).join(' | ')
					: `${verdicts.length} ok`,
		});
	} catch (error) {
		if (!isUnwritable(error)) throw error;
		options.onWarning?.(`the verdict is not recorded in the manifest: ${errorMessage(error)}`);
	}
}

async function restoreTest(
	repo: Repository,
	vm: string,
	point: BackupPoint,
	qemuImg: QemuImg,
	job: JobContext,
	signal?: AbortSignal,
	onBytes?: (bytes: number) => void,
): Promise<string[]> {
	// Scratch images in a work folder of the job's: gone when it ends, or at recover after a kill.
	const scratch = await job.workFolder(
		await stateFolder(path.join(repo.vmDir(vm), '.snapdeck'), `the state folder of ${vm}'s backups`),
		'restore-test',
	);
	job.step('restore-test');
	try {
		const problems: string[] = [];
		for (const file of point.files) {
			const restored = path.join(scratch, `${file.disk}.qcow2`);
			let reported = 0;
			await qemuImg.convert(repo.resolve(vm, file.file), restored, {
				signal,
				onProgress: fraction => {
					const now = Math.round(fraction * file.virtualSize);
					onBytes?.(now - reported);
					reported = now;
				},
			});
			onBytes?.(file.virtualSize - reported);
			if (!(await qemuImg.same(restored, repo.resolve(vm, file.file))))
				problems.push(`${file.disk} of point ${point.id} restores to an image that does not read as the backup`);
		}
		return problems;
	} finally {
		await rm(scratch, {recursive: true, force: true});
	}
}
