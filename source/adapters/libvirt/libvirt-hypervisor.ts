import {createHash} from 'node:crypto';
import os from 'node:os';
import path from 'node:path';
import {userDir} from '../../core/user-dirs.js';
import {mapLimited} from '../../core/chain.js';
import {errorMessage, SnapdeckError} from '../../core/errors.js';
import type {Snapshot, VmDefinition, VmSummary} from '../../core/model.js';
import {assertValidName, nameProblem} from '../../core/names.js';
import type {Plan, StepExecutor} from '../../core/plan.js';
import {preflight} from '../../core/preflight.js';
import {localRunner, type CommandRunner} from '../exec.js';
import {VmIdentity} from '../../core/identity.js';
import type {BackupDriver, Hypervisor, Inspection, RoleName, Roles} from '../hypervisor.js';
import {readImageGraph, strayOverlays} from '../qemu/image-graph.js';
import {localHost, type Host} from '../host.js';
import {folderOperationStore, stateDir} from '../state/operation-store.js';
import {acquireLock, lockHolder} from '../state/lock.js';
import {assertNoProblems, consistencyProblems} from '../../core/consistency.js';
import {stateFolder} from '../safe-fs.js';
import {checkDamage, QemuImg} from '../qemu/qemu-img.js';
import {checkOnce} from '../qemu/check-cache.js';
import {qmpBackupDriver} from '../qemu/qmp-backup.js';
import {startStorageDaemon} from '../qemu/storage-daemon.js';
import {libvirtBackupDriver, remoteCopyDriver, sizedDisks} from './libvirt-backup.js';
import {refuseWhatLibvirtCannot} from './libvirt-refusals.js';
import {libvirtExecutor} from './libvirt-executor.js';
import {removeThrowawayDomain} from './boot-staging.js';
import {bootThrowawayDomain} from './boot-domain.js';
import type {LibvirtConnection} from './connection.js';
import {archiveDomain, restoreDomainArchive} from './domain-archive.js';
import {restoreDomain} from './domain-restore.js';
import {domainInstant, finishInstantDomain, instantDomain} from './instant-domain.js';
import {domainRows, runState} from './inventory.js';
import {Virsh} from './virsh.js';
import {domainBootFiles, parseDomainXml, parseSnapshotXml} from './xml.js';

/** A local libvirt connection (qemu:///system, qemu:///session, test:///default) through virsh. */
export class LibvirtHypervisor implements Hypervisor {
	private readonly virsh: Virsh;
	private readonly qemuImg: QemuImg;
	/** What the role modules use of this connection. */
	private readonly connection: LibvirtConnection;

	/** `host`: where the domains' images are, for what snapdeck does to them itself (qemu-img, files). */
	readonly roles: Roles;
	readonly unavailable: Partial<Record<RoleName, string>>;

	constructor(
		readonly uri: string,
		private readonly host: Host = localHost,
		runner: CommandRunner = localRunner,
	) {
		const remote = host !== localHost;
		this.roles = {
			power: {start: vm => this.start(vm), stop: vm => this.stop(vm)},
			backups: {backupDriver: vm => this.backupDriver(vm), liveBitmaps: inspection => this.liveBitmaps(inspection)},
			restores: {
				restoreVm: (name, definition, disks, write, _work, bootFiles) =>
					restoreDomain(this.connection, name, definition, disks, write, bootFiles),
			},
			// removeThrowawayDomain: only a transient domain whose name carries the job's token.
			bootTests: {
				bootThrowaway: (...args) => bootThrowawayDomain(this.connection, ...args),
				removeThrowaway: (name, token) => removeThrowawayDomain(this.virsh, uri, name, token),
			},
			imageChecks: {
				checkImages: inspection => this.checkImages(inspection),
				writtenBytes: (_inspection, files) => this.writtenBytes(files),
			},
			guestAgents: {canQuiesce: vm => this.canQuiesce(vm)},
			watching: {lockHolder: vm => this.lockHolder(vm)},
			// What a remote host cannot do yet: each reads or writes images on this machine's side.
			...(remote
				? {}
				: {
						archives: {
							archiveImages: inspection => archiveDomain(this.connection, inspection),
							restoreArchive: (name, definition, images, copy) =>
								restoreDomainArchive(this.connection, name, definition, images, copy),
						},
						inPlaceRestores: {activeImages: vm => this.activeImages(vm)},
						instantRestores: {
							instantVm: (name, definition, backings, instant) =>
								instantDomain(this.connection, name, definition, backings, instant),
							instantOf: vm => domainInstant(this.connection, vm),
							finishInstant: (vm, options) => finishInstantDomain(this.connection, vm, options),
						},
					}),
		};
		this.unavailable = remote
			? {
					archives: `archiving a domain of a remote host (${uri}) with its snapshots, or restoring such an archive there, is not supported yet: back it up without --with-snapshots, or run snapdeck on that host`,
					inPlaceRestores: `restoring in place on a remote host (${uri}) is not supported yet: restore the point there as a new domain (--as NAME), or run snapdeck on that host`,
					instantRestores: `no instant restore onto a remote libvirt host (${uri}): the new domain would read the repository on this machine across the network until its data is in, and a lost connection would fail its disk under the guest; restore with --as NAME (a full copy there), then start it`,
				}
			: {};
		this.virsh = new Virsh(uri, runner);
		this.qemuImg = new QemuImg(host.runner);
		this.connection = {
			uri,
			virsh: this.virsh,
			qemuImg: this.qemuImg,
			host,
			domainNames: () => this.domainNames(),
			inspect: vm => this.inspect(vm),
			folderOf: vm => this.folderOf(vm),
		};
	}

	/** Where snapdeck keeps a domain's lock, pending operation and journal (libvirt keeps the rest). */
	private folderOf(vm: string) {
		const connection = createHash('sha256').update(this.uri).digest('hex').slice(0, 12);
		return path.join(userDir('data', process.env, os.homedir()), 'libvirt', connection, vm);
	}

	names(): Promise<string[]> {
		return this.domainNames();
	}

	/** The domain's identity: this connection's host and libvirt's UUID of the domain. */
	async identity(vm: string): Promise<VmIdentity> {
		assertValidName('VM', vm);
		const [[uuid = ''], host] = await Promise.all([
			this.virsh.batch([['domuuid', '--domain', vm]]),
			this.host.identity(),
		]);
		if (!uuid.trim())
			throw new SnapdeckError(
				'not-found',
				`there is no domain '${vm}' on ${this.uri}`,
				`'snapdeck list --connect ${this.uri}' shows its domains`,
				'no-such-vm',
			);
		const parsed = VmIdentity.safeParse({...host, uuid: uuid.trim().toLowerCase()});
		if (!parsed.success)
			throw new SnapdeckError('failed', `libvirt gave no UUID for domain ${vm} (${uuid.trim().slice(0, 80)})`);
		return parsed.data;
	}

	private async domainNames(): Promise<string[]> {
		return (await this.virsh.run(['list', '--all', '--name']))
			.split('\n')
			.map(line => line.trim())
			.filter(Boolean)
			.sort();
	}

	async list(): Promise<VmSummary[]> {
		// Over ssh the layers every domain asks for at once are read over one connection (host.ts: layerReader).
		return mapLimited(
			await domainRows(this.virsh),
			this.host === localHost ? 16 : 64,
			async ({name, state, xml, snapshots, current}) => {
				const problem = nameProblem(name);
				const row: VmSummary = {
					name,
					state,
					current,
					chainDepth: 0,
					disks: [],
					snapshots: snapshots.length,
					error: problem ? `snapdeck cannot manage a domain named like this: ${problem}` : null,
				};
				if (!xml.trim())
					return {...row, state: 'unknown', error: 'libvirt returned no definition (was it undefined meanwhile?)'};
				try {
					const {disks, uuid} = parseDomainXml(xml);
					const [chains, host] = await Promise.all([
						Promise.all(disks.map(async disk => ({disk, ...(await this.host.chain(disk.file))}))),
						this.host.identity(),
					]);
					const identity = VmIdentity.safeParse({...host, uuid: uuid.trim().toLowerCase()});
					return {
						...row,
						...(identity.success ? {identity: identity.data} : {}),
						disks: chains.map(({disk, virtualSize, chain}) => ({
							target: disk.target,
							file: disk.file,
							virtualSize,
							chain,
						})),
						chainDepth: Math.max(0, ...chains.map(({chain}) => chain.length)),
						error: row.error ?? (chains.flatMap(({problem}) => (problem ? [problem] : [])).join('; ') || null),
					};
				} catch (error) {
					return {...row, error: errorMessage(error)};
				}
			},
		);
	}

	async inspect(vm: string): Promise<Inspection> {
		assertValidName('VM', vm);
		const [state, xml, list, current] = (await this.virsh.batch([
			['domstate', '--domain', vm],
			['dumpxml', '--domain', vm],
			['snapshot-list', '--domain', vm, '--name'],
			['snapshot-current', '--domain', vm, '--name'],
		])) as [string, string, string, string];
		if (!xml.trim()) {
			throw new SnapdeckError(
				'not-found',
				`there is no domain '${vm}' on ${this.uri}`,
				`'snapdeck list --connect ${this.uri}' shows its domains`,
				'no-such-vm',
			);
		}
		const domain = parseDomainXml(xml);
		const names = list
			.split('\n')
			.map(line => line.trim())
			.filter(Boolean);
		const snapshotXml = await this.virsh.batch(
			names.map(name => ['snapshot-dumpxml', '--domain', vm, '--snapshotname', name]),
		);
		const problems: string[] = [];
		const snapshots: Snapshot[] = [];
		names.forEach((name, index) => {
			const parsed = parseSnapshotXml(snapshotXml[index]!);
			const invalid = nameProblem(parsed.name);
			if (invalid)
				return problems.push(`snapshot ${JSON.stringify(parsed.name)} has a name snapdeck cannot manage: ${invalid}`);
			// libvirt does not record whether a snapshot was quiesced.
			snapshots.push({
				name: parsed.name,
				kind: parsed.kind,
				memory: parsed.memory,
				quiesced: false,
				description: parsed.description,
				createdAt: parsed.createdAt,
				parent: parsed.parent,
				disks: parsed.disks,
			});
		});
		const definition: VmDefinition = {name: vm, disks: domain.disks, current: current.trim() || null, snapshots};
		const {images, problems: imageProblems} = await readImageGraph(this.qemuImg, null, definition, 'libvirt', {
			readsFiles: this.host === localHost,
		});
		const directories = [...new Set(definition.disks.map(disk => path.dirname(disk.file)))];
		const existingFiles = (await Promise.all(directories.map(directory => this.host.listDir(directory)))).flat();
		const strays = await strayOverlays(existingFiles, new Set(Object.keys(images)), file => this.host.chain(file));
		return {
			state: {definition, run: runState(state), images, existingFiles, imagePrefix: `${vm}-`},
			problems: [...problems, ...imageProblems],
			findings: strays.map(
				stray =>
					`${stray} is an overlay on ${vm}'s images that no disk or snapshot uses (left by an interrupted operation, or made outside libvirt? inspect it, then delete it)`,
			),
		};
	}

	async lockHolder(vm: string) {
		return lockHolder(path.join(stateDir(this.folderOf(vm)), 'lock'));
	}

	async lock(vm: string, command: string) {
		assertValidName('VM', vm);
		// The inspection follows the lock: virsh starts and connects meanwhile.
		this.virsh.warm();
		return acquireLock(
			path.join(await stateFolder(stateDir(this.folderOf(vm)), `the state folder of domain '${vm}'`), 'lock'),
			`domain '${vm}' on ${this.uri}`,
			command,
		);
	}

	async preflight({state}: Inspection, plan: Plan): Promise<void> {
		const vm = state.definition.name;
		return preflight(state, plan, {
			instant: () => domainInstant(this.connection, vm),
			quiesceProblem: () =>
				this.virsh.run(['qemu-agent-command', '--domain', vm, '{"execute":"guest-ping"}']).then(
					() => null,
					(error: Error) => ({
						message: `cannot quiesce ${vm}: ${error.message.replace(/^virsh qemu-agent-command on \S+ failed: /, '')}`,
						hint: 'take it unquiesced (leave out --quiesce), or cancel and set up qemu-guest-agent in the guest with a guest-agent channel in the domain',
					}),
				),
			own: async () => refuseWhatLibvirtCannot(state, plan),
			// qemu-img check there, of what the running domain does not write (read from outside, that can look corrupt).
			damage: async files => {
				// A running domain's active images are skipped whether a job runs or not: libvirt is asked
				// about jobs only when the plan touches another image (a take touches the active ones alone).
				const active = new Set(state.definition.disks.map(disk => disk.file));
				const skip =
					state.run === 'running' && files.every(file => active.has(file)) ? active : await this.beingWritten({state});
				return mapLimited(files, 4, async file => {
					if (skip.has(file)) return null;
					const check = await this.qemuImg.check(file);
					return checkDamage(check);
				});
			},
			locate: file => file,
			freeSpace: async () =>
				Promise.all(
					[...new Set(plan.steps.flatMap(step => step.creates).map(file => path.dirname(file)))].map(
						async directory => ({
							where: `${directory} on ${this.host.name}`,
							free: await this.host.freeBytes(directory),
						}),
					),
				),
		});
	}

	executor({state}: Inspection): StepExecutor {
		return libvirtExecutor(state, this.virsh, this.qemuImg, this.host);
	}

	/**
	 * libvirt's push backup of a running domain, with checkpoints (see libvirt-backup.ts). A stopped
	 * domain's disks are copied by qemu-storage-daemon, opened read-only (its image locks keep the
	 * domain from starting meanwhile), or on a remote host by qemu-img there: always a full, since
	 * libvirt 9 can neither make a checkpoint of a stopped domain nor let snapdeck add bitmaps
	 * behind its back.
	 */
	async backupDriver(vm: string): Promise<BackupDriver> {
		const {state, problems} = await this.inspect(vm);
		assertNoProblems(vm, 'back up', [...problems, ...consistencyProblems(state.definition, state.images)]);
		const definition = await this.virsh.run(['dumpxml', '--domain', vm, '--inactive']);
		// The repository is on this machine: its files are rebased by qemu-img here.
		const remote = this.host === localHost ? undefined : this.host;
		// A direct-boot kernel and initramfs, UEFI's variables: kept with every point where they are on this machine.
		const bootFiles = domainBootFiles(definition).map(file => ({
			...file,
			name: file.path,
			...(remote ? {fetch: (local: string) => remote.fetch(file.path, local)} : {}),
		}));
		if (state.run === 'running')
			return {...libvirtBackupDriver(vm, state, definition, this.virsh, new QemuImg(localRunner), remote), bootFiles};
		const untracked = `${vm} is stopped, and libvirt 9 tracks changes (checkpoints) only while a domain runs (once it runs, one more full starts a new chain of incrementals)`;
		if (state.run !== 'stopped')
			throw new SnapdeckError(
				'refused',
				`cannot back up ${vm}: libvirt reports it neither running nor shut off ('virsh domstate ${vm}' tells what it is)`,
				'resume it or shut it down, then back it up',
			);
		if (remote)
			return {
				...(await remoteCopyDriver(vm, state, definition, remote, this.qemuImg, this.virsh, untracked)),
				bootFiles,
			};
		const folder = this.folderOf(vm);
		const disks = state.definition.disks;
		const daemon = await startStorageDaemon(folder, disks, {readOnly: true});
		return qmpBackupDriver({
			client: daemon.client,
			definition,
			qemuImg: this.qemuImg,
			close: () => daemon.stop(),
			disks: sizedDisks(state).map(disk => ({...disk, node: daemon.nodes.get(disk.target)!})),
			untracked,
			bootFiles,
		});
	}

	async liveBitmaps({state}: Inspection): Promise<Record<string, string[]> | null> {
		if (state.run !== 'running') return null;
		const vm = state.definition.name;
		// A checkpoint is a bitmap on every disk it names; snapdeck's name all of the domain's disks.
		const names = (await this.virsh.run(['checkpoint-list', '--domain', vm, '--name']))
			.split('\n')
			.map(line => line.trim())
			.filter(Boolean);
		return Object.fromEntries(state.definition.disks.map(disk => [disk.target, names]));
	}

	/** Images a running domain's QEMU may be writing: its active images, or all of them while a job runs. */
	private async beingWritten({state}: Pick<Inspection, 'state'>): Promise<Set<string>> {
		if (state.run !== 'running') return new Set();
		const vm = state.definition.name;
		const [job, ...blockJobs] = await this.virsh.batch([
			['domjobinfo', '--domain', vm],
			...state.definition.disks.map(disk => ['blockjob', '--domain', vm, '--path', disk.target, '--info']),
		]);
		const busy =
			!/Job type:\s+None/.test(job ?? '') ||
			blockJobs.some(info => info.trim() !== '' && !/No current block job/.test(info));
		return new Set(busy ? Object.keys(state.images) : state.definition.disks.map(disk => disk.file));
	}

	async checkImages({state}: Inspection) {
		const skip = await this.beingWritten({state});
		return mapLimited(
			Object.keys(state.images).filter(file => !skip.has(file)),
			4,
			async file => {
				// Nothing writes it now (what a running domain writes is skipped above): on this host, checked again once it has changed (a remote host's, every time).
				const check = await checkOnce(this.qemuImg, file, this.host === localHost);
				return {file, errors: check['check-errors'], corruptions: check.corruptions ?? 0, leaks: check.leaks ?? 0};
			},
		);
	}

	/** Images are named by absolute path on the domain's host, where qemu-img reads them. */
	async writtenBytes(files: readonly string[]) {
		return Object.fromEntries(await mapLimited(files, 4, async file => [file, await this.qemuImg.writtenBytes(file)]));
	}

	/** Starts a stopped domain. */
	async start(vm: string): Promise<void> {
		await this.virsh.run(['start', '--domain', vm]);
	}

	/** Stops a running domain at once (virsh destroy: a power-off); false when it was not running. */
	async stop(vm: string): Promise<string | false> {
		const {state} = await this.inspect(vm);
		if (state.run !== 'running') return false;
		await this.virsh.run(['destroy', '--domain', vm]);
		return 'through virsh destroy';
	}

	async canQuiesce(vm: string): Promise<boolean> {
		return this.virsh.run(['qemu-agent-command', '--domain', vm, '{"execute":"guest-ping"}']).then(
			() => true,
			() => false,
		);
	}

	async activeImages(vm: string): Promise<Record<string, string>> {
		if (this.host !== localHost)
			throw new SnapdeckError(
				'refused',
				`restoring in place on a remote host (${this.uri}) is not supported yet`,
				'restore the point there as a new domain (--as NAME), or run snapdeck on that host',
			);
		return Object.fromEntries((await this.inspect(vm)).state.definition.disks.map(disk => [disk.target, disk.file]));
	}

	operations(vm: string) {
		return folderOperationStore(this.folderOf(vm), this.uri);
	}
}
