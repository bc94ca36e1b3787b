import {SnapdeckError} from '../../source/core/errors.js';
import type {VmIdentity} from '../../source/core/identity.js';
import type {ImageInfo, Snapshot, VmDefinition, VmSummary} from '../../source/core/model.js';
import {assertValidName} from '../../source/core/names.js';
import {
	handleStep,
	type JournalEntry,
	type OperationStore,
	type PendingOperation,
	type Plan,
	type StepExecutor,
	type StepHandlers,
} from '../../source/core/plan.js';
import {preflight} from '../../source/core/preflight.js';
import type {Hypervisor, Inspection, Roles} from '../../source/adapters/hypervisor.js';
import {recordChange} from '../../source/adapters/state/journal.js';
import type {LockHolder} from '../../source/adapters/state/lock.js';

export const MiB = 1024 * 1024;

/**
 * The fast tier's hypervisor: VMs, qcow2-like images and their chains, in memory. An image holds
 * its own data as one byte pattern per MiB, a backing image, and internal snapshots (copies of its
 * own data). It carries out every step kind a plan has the way qemu-img and QEMU do (commit copies
 * the top's data down, rebase with copy streams what the old backing held, an internal snapshot
 * applied makes the image's own data the snapshot's), so the planner, the runner, the service and
 * the UI run on it without QEMU. test/contract/ runs the same cases on it and on the real local
 * and libvirt adapters, so it cannot say something they would not.
 */
interface Image {
	virtualSize: number;
	backing: string | null;
	data: Map<number, number>;
	internal: Map<string, {data: Map<number, number>; memory: boolean; createdAt: string}>;
}

interface MemoryVm {
	definition: VmDefinition;
	running: boolean;
	uuid: string;
	pending: PendingOperation | null;
	journal: JournalEntry[];
	lock: LockHolder | null;
}

let uuids = 0;
const uuidFor = () => `00000000-0000-4000-8000-${String(++uuids).padStart(12, '0')}`;

export class MemoryHypervisor implements Hypervisor {
	readonly uri: string;
	readonly images = new Map<string, Image>();
	private readonly vms = new Map<string, MemoryVm>();
	readonly unavailable = {};
	readonly roles: Roles = {
		power: {
			start: async vm => void (this.vm(vm).running = true),
			stop: async vm => {
				const found = this.vm(vm);
				if (!found.running) return false;
				found.running = false;
				return 'through QMP quit';
			},
		},
		watching: {lockHolder: async vm => this.vms.get(vm)?.lock ?? null},
		// Its images are never damaged; what one holds itself is its own data, a MiB a pattern (qemu-img map's count).
		imageChecks: {
			checkImages: async inspection =>
				Object.keys(inspection.state.images).map(file => ({file, errors: 0, corruptions: 0, leaks: 0})),
			writtenBytes: async (_inspection, files) =>
				Object.fromEntries(files.map(file => [file, (this.images.get(file)?.data.size ?? 0) * MiB])),
		},
	};

	constructor(name = 'memory') {
		this.uri = `memory:${name}`;
	}

	/** A new stopped VM with fresh, empty disks of `sizeMiB`. */
	addVm(name: string, targets: readonly string[] = ['vda'], sizeMiB = 64): void {
		assertValidName('VM', name);
		for (const target of targets)
			this.images.set(`${name}-${target}.qcow2`, {
				virtualSize: sizeMiB * MiB,
				backing: null,
				data: new Map(),
				internal: new Map(),
			});
		this.vms.set(name, {
			definition: {
				name,
				disks: targets.map(target => ({target, file: `${name}-${target}.qcow2`})),
				current: null,
				snapshots: [],
			},
			running: false,
			uuid: uuidFor(),
			pending: null,
			journal: [],
			lock: null,
		});
	}

	private vm(name: string): MemoryVm {
		assertValidName('VM', name);
		const found = this.vms.get(name);
		if (!found)
			throw new SnapdeckError(
				'not-found',
				`there is no VM '${name}' in ${this.uri}`,
				`its VMs are: ${[...this.vms.keys()].join(', ')}`,
				'no-such-vm',
			);
		return found;
	}

	private image(file: string): Image {
		const found = this.images.get(file);
		if (!found) throw new SnapdeckError('failed', `${file} is missing`);
		return found;
	}

	/** What the guest reads at MiB `mib` of `file` (through its backing chain); 0 where nothing was written. */
	read(file: string, mib: number): number {
		for (let at: string | null = file; at !== null; at = this.image(at).backing) {
			const value = this.image(at).data.get(mib);
			if (value !== undefined) return value;
		}
		return 0;
	}

	/** The guest writes `pattern` over MiB `mib` of `target`'s active image. */
	write(vm: string, pattern: number, mib: number, target = 'vda'): void {
		const disk = this.vm(vm).definition.disks.find(candidate => candidate.target === target)!;
		this.image(disk.file).data.set(mib, pattern);
	}

	activeFile(vm: string, target = 'vda'): string {
		return this.vm(vm).definition.disks.find(candidate => candidate.target === target)!.file;
	}

	async names(): Promise<string[]> {
		return [...this.vms.keys()].sort();
	}

	async list(): Promise<VmSummary[]> {
		return (await this.names()).map(name => {
			const vm = this.vms.get(name)!;
			const disks = vm.definition.disks.map(disk => ({
				target: disk.target,
				file: disk.file,
				virtualSize: this.images.get(disk.file)?.virtualSize ?? 0,
				chain: this.chainOf(disk.file),
			}));
			return {
				name,
				state: vm.running ? 'running' : 'stopped',
				disks,
				snapshots: vm.definition.snapshots.length,
				current: vm.definition.current,
				chainDepth: Math.max(0, ...disks.map(disk => disk.chain.length)),
				error: null,
				identity: {host: 'name:memory', hostName: 'memory', uuid: vm.uuid},
			} satisfies VmSummary;
		});
	}

	private chainOf(file: string): string[] {
		const chain: string[] = [];
		for (
			let at: string | null = file;
			at !== null && this.images.has(at) && !chain.includes(at);
			at = this.images.get(at)!.backing
		)
			chain.push(at);
		return chain;
	}

	async identity(vm: string): Promise<VmIdentity> {
		return {host: 'name:memory', hostName: 'memory', uuid: this.vm(vm).uuid};
	}

	async inspect(vm: string): Promise<Inspection> {
		const found = this.vm(vm);
		const images: Record<string, ImageInfo> = {};
		const problems: string[] = [];
		const reach = (file: string) => {
			for (let at: string | null = file; at !== null && !(at in images);) {
				const image = this.images.get(at);
				if (!image) {
					problems.push(`${at} is missing`);
					return;
				}
				images[at] = {
					file: at,
					format: 'qcow2',
					virtualSize: image.virtualSize,
					actualSize: image.data.size * MiB,
					backing: image.backing,
					bitmaps: [],
					internalSnapshots: [...image.internal].map(([name, internal]) => ({
						name,
						vmStateSize: internal.memory ? MiB : 0,
						createdAt: internal.createdAt,
					})),
				};
				at = image.backing;
			}
		};
		for (const disk of found.definition.disks) reach(disk.file);
		for (const snapshot of found.definition.snapshots) for (const disk of snapshot.disks) reach(disk.file);
		return {
			state: {
				definition: structuredClone(found.definition),
				run: found.running ? 'running' : 'stopped',
				images,
				existingFiles: [...this.images.keys()],
			},
			problems,
			findings: [],
		};
	}

	async lock(vm: string, command: string): Promise<() => Promise<void>> {
		const found = this.vm(vm);
		if (found.lock)
			throw new SnapdeckError(
				'locked',
				`VM '${vm}' is busy: locked by pid ${found.lock.pid} (${found.lock.command})`,
				'wait for it to finish',
			);
		const holder: LockHolder = {
			pid: process.pid,
			host: 'memory',
			user: 'test',
			command,
			since: new Date().toISOString(),
		};
		found.lock = holder;
		return async () => {
			if (found.lock === holder) found.lock = null;
		};
	}

	async preflight(inspection: Inspection, plan: Plan): Promise<void> {
		return preflight(inspection.state, plan, {
			instant: async () => null,
			quiesceProblem: async () => ({
				message: `cannot quiesce ${inspection.state.definition.name}: it has no guest agent`,
				hint: 'take it unquiesced',
			}),
			own: async () => undefined,
			damage: async files => files.map(() => null),
			locate: file => file,
			freeSpace: async () => [],
		});
	}

	executor(inspection: Inspection): StepExecutor {
		const vm = this.vm(inspection.state.definition.name);
		const fresh = (file: string, resuming: boolean) => {
			if (!this.images.has(file)) return;
			if (!resuming) throw new SnapdeckError('refused', `${file} already exists; snapdeck never overwrites an image`);
			this.images.delete(file);
		};
		const handlers: StepHandlers = {
			'create-overlay': async (step, {resuming}) => {
				fresh(step.file, resuming);
				this.images.set(step.file, {
					virtualSize: this.image(step.backing).virtualSize,
					backing: step.backing,
					data: new Map(),
					internal: new Map(),
				});
			},
			'internal-create': async (step, {resuming}) => {
				const image = this.image(step.file);
				if (image.internal.has(step.name) && !resuming)
					throw new SnapdeckError('refused', `${step.file} already holds an internal snapshot named '${step.name}'`);
				image.internal.set(step.name, {
					data: new Map(image.data),
					memory: step.memory,
					createdAt: new Date().toISOString(),
				});
			},
			'internal-apply': async step => {
				const image = this.image(step.file);
				image.data = new Map(image.internal.get(step.name)!.data);
			},
			'internal-delete': async step => void this.image(step.file).internal.delete(step.name),
			'copy-internal': async (step, {resuming}) => {
				fresh(step.target, resuming);
				const source = this.image(step.source);
				this.images.set(step.target, {
					virtualSize: source.virtualSize,
					backing: step.backing,
					data: new Map(source.internal.get(step.name)!.data),
					internal: new Map(),
				});
			},
			commit: async step => {
				const top = this.image(step.top);
				if (top.backing !== step.base)
					throw new SnapdeckError('refused', `${step.top} is no longer backed by ${step.base}; the plan is stale`);
				const base = this.image(step.base);
				for (const [mib, value] of top.data) base.data.set(mib, value);
			},
			rebase: async step => {
				const image = this.image(step.file);
				if (step.copy) {
					// What the old chain read and the new one would not: copied in (qemu-img rebase, safe mode).
					const seen = new Set<number>();
					for (let at = image.backing; at !== null; at = this.image(at).backing)
						for (const mib of this.image(at).data.keys()) seen.add(mib);
					const reads = (from: string | null, mib: number) => (from === null ? 0 : this.read(from, mib));
					for (const mib of seen)
						if (!image.data.has(mib) && reads(image.backing, mib) !== reads(step.backing, mib))
							image.data.set(mib, reads(image.backing, mib));
				}
				image.backing = step.backing;
			},
			'delete-image': async step => void this.images.delete(step.file),
			'stop-vm': async () => void (vm.running = false),
			'start-vm': async () => void (vm.running = true),
			'write-definition': async step => void (vm.definition = structuredClone(step.definition) as VmDefinition),
			'write-manifest': async () => {
				throw new Error('internal: a VM plan has no write-manifest step');
			},
		};
		return {
			execute: (step, context) => handleStep(handlers, step, context),
			rollback: async step => {
				if (step.op === 'create-overlay') this.images.delete(step.file);
				if (step.op === 'copy-internal') this.images.delete(step.target);
				if (step.op === 'internal-create') this.images.get(step.file)?.internal.delete(step.name);
			},
		};
	}

	operations(vm: string): OperationStore {
		const found = this.vm(vm);
		return {
			readPending: async () => found.pending,
			writePending: async pending => void (found.pending = structuredClone(pending)),
			clearPending: async () => void (found.pending = null),
			appendJournal: async entry => {
				found.journal.push(entry);
				// Into the central journal too (SNAPDECK_JOURNAL in the tests), under this connection, as the real adapters do.
				await recordChange(this.uri, entry);
			},
		};
	}

	/** The VM's journal, as its operations appended it. */
	journalOf(vm: string): readonly JournalEntry[] {
		return this.vm(vm).journal;
	}

	/** The VM's definition: its disks, snapshots and current snapshot (a copy). */
	definitionOf(vm: string): VmDefinition {
		return structuredClone(this.vm(vm).definition);
	}

	/** Changes the VM's definition as someone else's hand would (a hostile description, a disk file renamed). */
	editDefinition(vm: string, change: (definition: VmDefinition) => void): void {
		change(this.vm(vm).definition);
	}

	/** Snapshots as the VM's definition lists them. */
	snapshotsOf(vm: string): readonly Snapshot[] {
		return this.vm(vm).definition.snapshots;
	}
}
