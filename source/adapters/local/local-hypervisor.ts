import {readdir, stat, statfs} from 'node:fs/promises';
import path from 'node:path';
import {mapLimited} from '../../core/chain.js';
import {SnapdeckError} from '../../core/errors.js';
import type {VmRunState, VmSummary} from '../../core/model.js';
import {assertValidName} from '../../core/names.js';
import {assertNoProblems} from '../../core/consistency.js';
import type {Plan} from '../../core/plan.js';
import {preflight} from '../../core/preflight.js';
import {localRunner, type CommandRunner} from '../exec.js';
import {localHost} from '../host.js';
import {derivedUuid, type VmIdentity} from '../../core/identity.js';
import {readImageGraph, strayOverlays} from '../qemu/image-graph.js';
import type {BackupDriver, BootCheck, BootOptions, Hypervisor, Inspection, Roles} from '../hypervisor.js';
import {bootThrowaway, removeThrowawayQemu} from './boot-vm.js';
import {agentAnswers, withFrozenGuest} from '../guest-agent.js';
import {acquireLock, lockHolder} from '../state/lock.js';
import {stateFolder} from '../safe-fs.js';
import {checkDamage, QemuImg} from '../qemu/qemu-img.js';
import {localExecutor} from './local-executor.js';
import {qmpBackupDriver} from '../qemu/qmp-backup.js';
import {BlockView, corruptImages, nodeBitmaps, topNodes} from '../qemu/block-view.js';
import {readyView} from '../qemu/qmp-block.js';
import {QmpClient} from '../qemu/qmp-client.js';
import {startStorageDaemon} from '../qemu/storage-daemon.js';
import {socketAnswers, startVm, stopVm} from './qemu-process.js';
import type {LocalLab} from './lab.js';
import {vmSummary} from './vm-summary.js';
import {archiveImages, restoreArchive, restoreVm} from './vm-restore.js';
import {finishInstant, instantOf, instantVm} from './instant-vm.js';
import {checkOnce} from '../qemu/check-cache.js';
import {folderOperationStore, stateDir} from '../state/operation-store.js';
import {readVmFile, VM_FILE, type VmFile} from './vm-file.js';
import {assertOwnUuid, recordHome} from './vm-home.js';
import {watchLab} from './lab-watch.js';

/** The vm.json this adapter's inspect() read, carried in the inspection. */
function vmFileOf(inspection: Inspection): VmFile {
	if (inspection.native === undefined)
		throw new Error(
			`internal: an inspection of ${inspection.state.definition.name} that the local adapter did not make`,
		);
	return inspection.native as VmFile;
}

/** `local:DIR`: each VM is a folder `DIR/<vm>/` with a vm.json and its qcow2 images. */
export class LocalHypervisor implements Hypervisor {
	readonly uri: string;
	private readonly qemuImg: QemuImg;
	private readonly runner: CommandRunner;
	/** What the role modules use of this lab. */
	private readonly lab: LocalLab;

	/** `journal`: record changes in the central journal too (not while the demo lab is being built). */
	readonly roles: Roles = {
		power: {start: vm => this.start(vm), stop: vm => this.stop(vm)},
		backups: {backupDriver: vm => this.backupDriver(vm), liveBitmaps: inspection => this.liveBitmaps(inspection)},
		archives: {
			archiveImages: inspection => archiveImages(this.lab, inspection),
			restoreArchive: (...args) => restoreArchive(this.lab, ...args),
		},
		restores: {restoreVm: (...args) => restoreVm(this.lab, ...args)},
		inPlaceRestores: {activeImages: vm => this.activeImages(vm)},
		instantRestores: {
			instantVm: (...args) => instantVm(this.lab, ...args),
			instantOf: vm => instantOf(this.lab, vm),
			finishInstant: (vm, options) => finishInstant(this.lab, vm, options),
		},
		bootTests: {bootThrowaway: (...args) => this.bootThrowaway(...args), removeThrowaway: removeThrowawayQemu},
		imageChecks: {
			checkImages: inspection => this.checkImages(inspection),
			writtenBytes: (inspection, files) => this.writtenBytes(inspection, files),
		},
		guestAgents: {canQuiesce: vm => this.canQuiesce(vm)},
		watching: {lockHolder: vm => this.lockHolder(vm), watch: onChange => this.watch(onChange)},
	};

	readonly unavailable = {};

	constructor(
		readonly root: string,
		runner: CommandRunner = localRunner,
		private readonly journal = true,
	) {
		this.uri = `local:${root}`;
		this.qemuImg = new QemuImg(runner);
		this.runner = runner;
		this.lab = {root, uri: this.uri, qemuImg: this.qemuImg, folderOf: vm => this.folderOf(vm)};
	}

	private async rootEntries() {
		try {
			return await readdir(this.root, {withFileTypes: true});
		} catch (error) {
			const code = (error as NodeJS.ErrnoException).code;
			const hint = `build one with 'snapdeck demo --dir ${this.root}', or choose another with --connect local:DIR`;
			if (code === 'ENOENT') throw new SnapdeckError('not-found', `there is no lab at ${this.root}`, hint);
			// A path to a file (a VM's vm.json, an image) is a mistyped lab too: no raw ENOTDIR, and the same code as a missing one.
			if (code === 'ENOTDIR')
				throw new SnapdeckError(
					'not-found',
					`there is no lab at ${this.root}: it is a file, and a lab is a folder of VM folders`,
					hint,
				);
			throw error;
		}
	}

	private async folderOf(vm: string): Promise<string> {
		assertValidName('VM', vm);
		const folder = path.join(this.root, vm);
		const isDir = await stat(folder).then(
			s => s.isDirectory(),
			() => false,
		);
		if (!isDir) {
			const known = (await this.rootEntries())
				.filter(entry => entry.isDirectory() && !entry.name.startsWith('.'))
				.map(entry => entry.name);
			throw new SnapdeckError(
				'not-found',
				`there is no VM '${vm}' in ${this.uri}`,
				known.length > 0 ? `its VMs are: ${known.sort().join(', ')}` : 'it has no VMs',
				'no-such-vm',
			);
		}
		return folder;
	}

	/** Calls onChange when a VM comes or goes, changes, or another snapdeck locks one (see watchLab). */
	watch(onChange: () => void): () => void {
		return watchLab(this.root, () => this.names(), onChange);
	}

	async bootThrowaway(
		vm: string,
		definition: unknown,
		disks: Readonly<Record<string, string>>,
		work: string,
		check: BootCheck,
		options: BootOptions = {},
	) {
		return bootThrowaway(await this.folderOf(vm), definition, disks, work, check, options);
	}

	async names(): Promise<string[]> {
		return (await this.rootEntries())
			.filter(entry => entry.isDirectory() && !entry.name.startsWith('.'))
			.map(entry => entry.name)
			.sort();
	}

	async list(): Promise<VmSummary[]> {
		const names = await this.names();
		// Header reads only; bounded anyway, so thousands of VMs do not open thousands of files at once.
		return mapLimited(names, 32, name => vmSummary(this.lab, name));
	}

	async inspect(vm: string): Promise<Inspection> {
		const folder = await this.folderOf(vm);
		const file = await readVmFile(folder);
		// An instant restore's disks are backed by the point in the repository until the stream is done.
		const {images, problems} = await readImageGraph(this.qemuImg, folder, file, VM_FILE, {
			readsFiles: true,
			confine: true,
			alsoWithin: file.instant ? [file.instant.repository] : [],
		});
		const existingFiles = await readdir(folder);
		const qmp = file.qmp === null ? null : path.resolve(folder, file.qmp);
		const run: VmRunState = qmp !== null && (await socketAnswers(qmp)) ? 'running' : 'stopped';
		const known = new Set(Object.keys(images).map(image => path.resolve(folder, image)));
		const strays = await strayOverlays(
			existingFiles.filter(name => !name.startsWith('.') && name !== VM_FILE).map(name => path.join(folder, name)),
			known,
		);
		const findings = strays.map(
			stray =>
				`${path.relative(folder, stray)} is an overlay on this VM's images that no disk or snapshot uses (an interrupted operation? inspect it, then delete it)`,
		);
		return {state: {definition: file, run, images, existingFiles}, problems, findings, native: file};
	}

	/** The VM's identity: this host's, and the "uuid" of its vm.json (one derived from its folder for a VM made before VMs had one). */
	async identity(vm: string): Promise<VmIdentity> {
		const folder = await this.folderOf(vm);
		const file = await readVmFile(folder);
		const host = await localHost.identity();
		if (file.uuid) await assertOwnUuid(folder, file.uuid);
		return {...host, uuid: file.uuid ?? derivedUuid(host.host, folder)};
	}

	/** Whether a guest agent answers on the socket the VM's vm.json names. */
	async canQuiesce(vm: string): Promise<boolean> {
		const folder = await this.folderOf(vm);
		const file = await readVmFile(folder).catch(() => null);
		if (!file?.qemu?.agent) return false;
		return agentAnswers(path.resolve(folder, file.qemu.agent), 3000);
	}

	async lockHolder(vm: string) {
		return lockHolder(path.join(stateDir(path.join(this.root, vm)), 'lock'));
	}

	async lock(vm: string, command: string) {
		const folder = await this.folderOf(vm);
		const release = await acquireLock(
			path.join(await stateFolder(stateDir(folder), `the state folder of VM '${vm}'`), 'lock'),
			`VM '${vm}'`,
			command,
		);
		await this.recordIdentity(folder);
		return release;
	}

	/** Where the VM's UUID is, recorded when it is changed or backed up (vm-home.ts). */
	private async recordIdentity(folder: string) {
		const uuid = (await readVmFile(folder).catch(() => null))?.uuid;
		if (uuid) await recordHome(folder, uuid);
	}

	async preflight(inspection: Inspection, plan: Plan): Promise<void> {
		const {state} = inspection;
		const vm = state.definition.name;
		const file = vmFileOf(inspection);
		const folder = path.join(this.root, vm);
		return preflight(state, plan, {
			instant: async () => file?.instant ?? null,
			quiesceProblem: async () => {
				const agent = file?.qemu?.agent ? path.resolve(folder, file.qemu.agent) : null;
				if (agent === null)
					return {
						message: `cannot quiesce ${vm}: its vm.json names no guest agent socket ("agent" in "qemu")`,
						hint: 'take it unquiesced (leave out --quiesce), or give the VM a guest agent channel and restart it',
					};
				if (!(await agentAnswers(agent, 3000)))
					return {
						message: `cannot quiesce ${vm}: no guest agent answers on ${agent}`,
						hint: 'take it unquiesced (leave out --quiesce), or start qemu-guest-agent in the guest',
					};
				return null;
			},
			own: async () => {
				if (
					state.run === 'running' &&
					plan.steps.some(step => step.op === 'start-vm') &&
					(!file?.qemu || file.qmp === null)
				) {
					throw new SnapdeckError(
						'refused',
						`${plan.action} of ${vm} needs it stopped and started again, and its vm.json does not say how to start it`,
						`stop it yourself, then run the command again (or add "qemu" to its vm.json)`,
					);
				}
			},
			// What the running QEMU writes is judged by QEMU itself; qemu-img checks the rest.
			damage: async files => {
				const running = await this.runningView(inspection);
				return mapLimited(files, 4, async image => {
					if (running.written.has(image)) return running.corrupt.has(image) ? 'QEMU found it corrupt' : null;
					const check = await this.qemuImg.check(path.resolve(folder, image));
					return checkDamage(check);
				});
			},
			locate: image => path.resolve(folder, image),
			freeSpace: async () => {
				const fs = await statfs(folder);
				return [{where: folder, free: fs.bavail * fs.bsize}];
			},
		});
	}

	executor(inspection: Inspection) {
		return localExecutor(
			path.join(this.root, inspection.state.definition.name),
			vmFileOf(inspection),
			this.qemuImg,
			this.runner,
		);
	}

	/** Starts a stopped VM from its vm.json; refuses one that runs or that has no "qemu" settings. */
	async start(vm: string): Promise<void> {
		const inspection = await this.inspect(vm);
		if (inspection.state.run === 'running') throw new SnapdeckError('input', `${vm} is already running`);
		await startVm(path.join(this.root, vm), vmFileOf(inspection), this.runner);
	}

	/** Stops a running VM at once (a power-off) and waits for its QEMU to be gone. */
	async stop(vm: string): Promise<string | false> {
		const inspection = await this.inspect(vm);
		if (inspection.state.run !== 'running') return false;
		const how = await stopVm(path.join(this.root, vm), vmFileOf(inspection));
		return {
			quit: 'through QMP quit',
			SIGTERM: 'by SIGTERM (its monitor did not take quit)',
			SIGKILL: 'by SIGKILL (it outlived SIGTERM by 5 s)',
			gone: 'it had ended meanwhile',
		}[how];
	}

	/** Backups through a running VM's own QEMU, or a qemu-storage-daemon on a stopped VM's active images. */
	async backupDriver(vm: string): Promise<BackupDriver> {
		const folder = await this.folderOf(vm);
		await this.recordIdentity(folder);
		// The inventory row (qcow2 headers, the QMP socket) tells the run state and the disks' sizes;
		// a qemu-img process per image cost an incremental backup a tenth of its time (bench/block.mjs).
		const summary = await vmSummary(this.lab, vm);
		if (summary.state === 'unknown') throw new SnapdeckError('failed', `cannot back up ${vm}: ${summary.error}`);
		// A chain with a problem (a protocol or device as backing file, a loop, a file outside the folder) is never opened.
		assertNoProblems(vm, 'back up', summary.error === null ? [] : [summary.error]);
		const file = await readVmFile(folder);
		const sizeOf = (target: string) => summary.disks.find(disk => disk.target === target)?.virtualSize ?? 0;
		// A direct-boot VM's kernel and initramfs (files in its folder, vm.json says): kept with every point.
		const kernel = file.qemu?.kernel ?? null;
		const bootFiles =
			kernel === null
				? []
				: [
						{role: 'kernel' as const, name: kernel.file, path: path.resolve(folder, kernel.file)},
						...(kernel.initrd === null
							? []
							: [{role: 'initrd' as const, name: kernel.initrd, path: path.resolve(folder, kernel.initrd)}]),
					];
		if (summary.state === 'running') {
			const client = await QmpClient.connect(path.resolve(folder, file.qmp!));
			try {
				const tops = await topNodes(await readyView(client, folder, vm));
				const disks = file.disks.map(disk => {
					const top = tops.get(disk.target);
					if (!top)
						throw new SnapdeckError(
							'failed',
							`the running QEMU of ${vm} has no disk ${disk.target}, which its vm.json lists`,
							'stop and start the VM so it runs what vm.json says',
						);
					return {target: disk.target, node: top.node, virtualSize: sizeOf(disk.target)};
				});
				const agent = file.qemu?.agent ? path.resolve(folder, file.qemu.agent) : null;
				return qmpBackupDriver({
					client,
					disks,
					definition: file,
					qemuImg: this.qemuImg,
					close: async () => client.close(),
					bootFiles,
					...(agent === null ? {} : {freeze: <T>(work: () => Promise<T>) => withFrozenGuest(agent, vm, work)}),
				});
			} catch (error) {
				client.close();
				throw error;
			}
		}
		const daemon = await startStorageDaemon(folder, file.disks);
		return qmpBackupDriver({
			client: daemon.client,
			definition: file,
			qemuImg: this.qemuImg,
			close: () => daemon.stop(),
			bootFiles,
			disks: file.disks.map(disk => ({
				target: disk.target,
				node: daemon.nodes.get(disk.target)!,
				virtualSize: sizeOf(disk.target),
			})),
		});
	}

	async liveBitmaps({state}: Inspection): Promise<Record<string, string[]> | null> {
		if (state.run !== 'running') return null;
		const folder = await this.folderOf(state.definition.name);
		const file = await readVmFile(folder);
		if (file.qmp === null) return null;
		const client = await QmpClient.connect(path.resolve(folder, file.qmp), 2000).catch(() => null);
		if (!client) return null;
		try {
			const view = new BlockView(client);
			const [tops, bitmaps] = [await topNodes(view), await nodeBitmaps(view)];
			return Object.fromEntries(
				file.disks.map(disk => [
					disk.target,
					(bitmaps.get(tops.get(disk.target)?.node ?? '') ?? []).map(bitmap => bitmap.name),
				]),
			);
		} finally {
			client.close();
		}
	}

	/**
	 * Of a running VM: the images its QEMU may be writing (its active images, or all of them while a
	 * block job runs or its monitor does not answer), and those QEMU has marked corrupt.
	 */
	private async runningView(inspection: Inspection): Promise<{written: Set<string>; corrupt: Set<string>}> {
		const {state} = inspection;
		if (state.run !== 'running') return {written: new Set(), corrupt: new Set()};
		const folder = path.join(this.root, state.definition.name);
		const file = vmFileOf(inspection);
		const client = file?.qmp ? await QmpClient.connect(path.resolve(folder, file.qmp), 2000).catch(() => null) : null;
		const seen = client
			? await Promise.all([client.execute<unknown[]>('query-block-jobs'), corruptImages(client)])
					.finally(() => client.close())
					.catch(() => null)
			: null;
		if (seen === null) return {written: new Set(Object.keys(state.images)), corrupt: new Set()};
		const [jobs, corrupt] = seen;
		return {
			written: new Set(jobs.length > 0 ? Object.keys(state.images) : state.definition.disks.map(disk => disk.file)),
			corrupt: new Set(Object.keys(state.images).filter(image => corrupt.has(path.resolve(folder, image)))),
		};
	}

	async checkImages(inspection: Inspection) {
		const {state} = inspection;
		const {written: skip} = await this.runningView(inspection);
		return mapLimited(
			Object.keys(state.images).filter(file => !skip.has(file)),
			4,
			async file => {
				// Nothing writes it now (what a running QEMU writes is skipped above): checked again once it has changed (see check-cache.ts).
				const check = await checkOnce(
					this.qemuImg,
					path.resolve(path.join(this.root, state.definition.name), file),
					true,
				);
				return {file, errors: check['check-errors'], corruptions: check.corruptions ?? 0, leaks: check.leaks ?? 0};
			},
		);
	}

	async writtenBytes({state}: Inspection, files: readonly string[]) {
		const folder = path.join(this.root, state.definition.name);
		return Object.fromEntries(
			await mapLimited(files, 4, async file => [file, await this.qemuImg.writtenBytes(path.resolve(folder, file))]),
		);
	}

	async activeImages(vm: string): Promise<Record<string, string>> {
		const folder = await this.folderOf(vm);
		return Object.fromEntries(
			(await readVmFile(folder)).disks.map(disk => [disk.target, path.resolve(folder, disk.file)]),
		);
	}

	operations(vm: string) {
		return folderOperationStore(path.join(this.root, vm), this.journal ? this.uri : undefined);
	}
}
