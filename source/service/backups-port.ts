import {assertNoProblems} from '../core/consistency.js';
import type {BackupPoint} from '../core/backup-manifest.js';
import {formatBytes} from '../core/units.js';
import {roleOf} from '../adapters/hypervisor.js';
import {runJob} from '../jobs/run-job.js';
import {runPlan} from '../jobs/run-plan.js';
import {bootTestPoint, type BootTestOptions} from '../backup/boot-test.js';
import {judgeBitmaps, rememberRepository, type CheckpointStatus} from '../backup/checkpoints.js';
import {pruneBackups, type PruneOptions} from '../backup/prune-backups.js';
import {listReceipts} from '../backup/receipts.js';
import {runBackup, type BackupOptions} from '../backup/run-backup.js';
import {verifyBackups, type VerifyOptions} from '../backup/verify.js';
import type {Backups, BackupsOf} from './ports.js';
import {assertOwn, backupsLock, type SessionContext} from './session-context.js';

/** The Backups port: a VM's backups in the repository (taking, listing, proving, pruning them) and its policy's retention. */
export function backupsPort(session: SessionContext): Backups {
	return {
		get repository() {
			return session.repository;
		},
		backup: (vm, options) => backup(session, vm, options),
		// Oldest first; those of another VM of that name with `origin`.
		backups: async (vm, options = {}) => (await (await session.repoOf(vm, {...options, gone: true})).read(vm)).points,
		backupsFolder: vm => session.repository?.bindingOf(vm) ?? null,
		verify: (vm, options) => verify(session, vm, options),
		bootTest: (vm, options) => bootTest(session, vm, options),
		// Oldest first: what was proved of its points, signed.
		receipts: async (vm, options = {}) => listReceipts(await session.repoOf(vm, {...options, gone: true}), vm),
		prune: (vm, options) => prune(session, vm, options),
		retentionOf: async vm => {
			const policy = (await session.policyOf())(vm);
			const retention = policy.backups.retention;
			return {policy: policy.name, retention: retention && Object.keys(retention).length > 0 ? retention : null};
		},
		configFile: async () => (await import('../config/config.js')).configFilePath(),
		checkpoints: (vm, options) => checkpoints(session, vm, options),
	};
}

/** Full or incremental backup of a VM into the repository (see backup/run-backup.ts), under the VM's lock and its backups'. */
async function backup(session: SessionContext, vm: string, options: BackupOptions): Promise<BackupPoint> {
	const {hypervisor} = session;
	const repo = await session.repoOf(vm);
	assertOwn(repo, vm, `back up ${vm}`);
	await rememberRepository(repo, hypervisor.operations(vm), !session.named);
	return session.backupsJob(repo, vm, {
		kind: 'backup',
		command: options.command,
		signal: options.signal,
		locks: [session.vmLock(vm), backupsLock(repo, vm)],
		run: async job => {
			// What blocks a snapshot blocks a backup: it would read a damaged chain as data and
			// write its bitmap into the damaged image (a truncated one grows, leaking clusters).
			assertNoProblems(vm, 'back up', (await session.inspect(vm)).problems);
			return runBackup(hypervisor, repo, vm, options, job);
		},
		describe: point => `${point.kind}, ${formatBytes(point.files.reduce((sum, file) => sum + file.size, 0))}`,
	});
}

async function verify(session: SessionContext, vm: string, options: VerifyOptions & BackupsOf) {
	const repo = await session.repoOf(vm, {...options, gone: true});
	// Verify runs where the repository cannot take a byte more (full, read-only: verify and prune
	// are the way out): its lock then falls back to this host, and it keeps no record there.
	let unwritable = false;
	return session.pointOfThisVm(repo, vm, options.point, () =>
		runJob({
			kind: 'verify',
			command: options.command,
			signal: options.signal,
			locks: [
				command =>
					repo.lock(vm, command, {
						readOnly: true,
						onFallback: why => {
							unwritable = true;
							options.onWarning?.(why);
						},
					}),
			],
			journal: async () => undefined,
			record: {...session.jobRecord(repo, vm), optional: true},
			run: job => verifyBackups(repo, vm, options, job, unwritable),
		}),
	);
}

/** Boots a point in a throwaway VM to prove it starts (verify --boot); the VM's policy may name what proves it. */
async function bootTest(
	session: SessionContext,
	vm: string,
	options: Omit<BootTestOptions, 'pattern' | 'check'> & BackupsOf,
) {
	const policy = (await session.policyOf())(vm);
	const repo = await session.repoOf(vm, {...options, gone: true});
	return session.pointJob(repo, vm, options.point, {
		kind: 'boot-test',
		command: options.command,
		signal: options.signal,
		locks: [backupsLock(repo, vm)],
		run: job =>
			bootTestPoint(
				repo,
				session.hypervisor,
				vm,
				{
					timeoutMs: (policy.boot?.timeout ?? 90) * 1000,
					...options,
					pattern: policy.boot?.pattern ?? null,
					check: policy.boot?.check ?? null,
				},
				job,
			),
		describe: result => result.message,
		failed: result => !result.ok,
	});
}

/** Retention, then the prune as a plan (backup/prune-backups.ts), run by the plan runner. */
async function prune(session: SessionContext, vm: string, options: PruneOptions & BackupsOf) {
	return pruneBackups(
		await session.repoOf(vm, {...options, gone: true}),
		vm,
		options,
		(plan, executor, store, resume) =>
			runPlan(plan, executor, store, {
				command: options.command,
				signal: options.signal,
				onEvent: options.onEvent,
				resume,
			}),
	);
}

/**
 * snapdeck's bitmaps (libvirt checkpoints) on a VM and whether a backup still needs each; with
 * `prune`, the ones none needs are removed, under the VM's lock. `left` names those the adapter
 * could not remove (libvirt deletes checkpoints of running domains only).
 */
async function checkpoints(
	session: SessionContext,
	vm: string,
	options: {prune?: boolean; command: string},
): Promise<{checkpoints: CheckpointStatus[]; removed: string[]; left: string[]}> {
	const {hypervisor} = session;
	const repo = await session.boundRepository(vm);
	const identity = await hypervisor.identity(vm);
	const judge = async () =>
		judgeBitmaps(
			vm,
			identity,
			Object.values((await session.bitmapsOf(await session.inspect(vm))) ?? {}).flat(),
			repo,
			hypervisor.operations(vm),
		);
	const checkpoints = await judge();
	const stale = checkpoints.filter(checkpoint => checkpoint.stale !== null).map(checkpoint => checkpoint.name);
	if (!options.prune || stale.length === 0) return {checkpoints, removed: [], left: []};
	const backups = roleOf(hypervisor, 'backups', 'change bitmaps');
	return runJob({
		kind: 'checkpoints',
		command: options.command,
		locks: [session.vmLock(vm)],
		journal: session.vmJournal(vm),
		run: async job => {
			await job.begin(stale.join(', '), `remove ${stale.length} stale bitmap(s)`);
			const driver = await backups.backupDriver(vm);
			try {
				for (const name of stale) await driver.removeBitmap(name);
			} finally {
				await driver.close();
			}
			const after = new Set((await judge()).map(checkpoint => checkpoint.name));
			return {
				checkpoints,
				removed: stale.filter(name => !after.has(name)),
				left: stale.filter(name => after.has(name)),
			};
		},
		describe: ({removed, left}) =>
			`removed ${removed.length} stale bitmap(s)${left.length > 0 ? `; left ${left.join(', ')}` : ''}`,
	});
}
