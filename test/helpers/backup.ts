import os from 'node:os';
import path from 'node:path';
import type {Hypervisor} from '../../source/adapters/hypervisor.js';
import {LocalHypervisor} from '../../source/adapters/local/local-hypervisor.js';
import type {BackupOptions} from '../../source/backup/run-backup.js';
import type {PruneOptions} from '../../source/backup/prune-backups.js';
import type {RestoreOptions} from '../../source/backup/restore.js';
import type {VerifyOptions} from '../../source/backup/verify.js';
import type {Repository} from '../../source/backup/repository.js';
import {sessionPorts} from '../../source/service/session-ports.js';

/** A lab with no VM: for jobs on points whose VM is not on the connection (a prune, a verify after a disaster). */
const emptyLab = () => new LocalHypervisor(path.join(os.tmpdir(), 'snapdeck-test-no-lab'));

/** A backup of `vm` into `repo` as every caller runs one: through the service's job runner (locks, journal). */
export const runBackup = (hypervisor: Hypervisor, repo: Repository, vm: string, options: BackupOptions) =>
	sessionPorts(hypervisor, {repository: repo.root}).backup(vm, options);

/** A restore of a point from `repo`, through the service's job runner as every caller runs one. */
export const restoreBackup = (repo: Repository, hypervisor: Hypervisor, vm: string, options: RestoreOptions) =>
	sessionPorts(hypervisor, {repository: repo.root}).restore(vm, options);

/** A prune of the points in `repo`, its plan run by the service's plan runner (a prune touches only the repository: any hypervisor serves). */
export const pruneBackups = (
	repo: Repository,
	vm: string,
	options: PruneOptions,
	hypervisor: Hypervisor = emptyLab(),
) => sessionPorts(hypervisor, {repository: repo.root}).prune(vm, options);

/** A verification of the points in `repo`, through the service's job runner as every caller runs one. */
export const verifyBackups = (
	repo: Repository,
	vm: string,
	options: VerifyOptions,
	hypervisor: Hypervisor = emptyLab(),
) => sessionPorts(hypervisor, {repository: repo.root}).verify(vm, options);
