import type {Hypervisor, Inspection} from '../../source/adapters/hypervisor.js';
import {SnapdeckError} from '../../source/core/errors.js';
import type {ImageInfo, VmDefinition, VmSummary} from '../../source/core/model.js';
import {handleStep, refuseSteps, type JournalEntry, type OperationStore, type PendingOperation, type StepHandlers} from '../../source/core/plan.js';
import {preflight} from '../../source/core/preflight.js';

/** One image: its backing, the blocks it holds itself (block number -> a byte pattern), its internal snapshots. */
interface MemoryImage {
	backing: string | null;
	blocks: Map<number, number>;
	internal: Map<string, Map<number, number>>;
}

interface MemoryVm {
	definition: VmDefinition;
	running: boolean;
	pending: PendingOperation | null;
	journal: JournalEntry[];
	locked: string | null;
}

const SIZE = 64 << 20;

/**
 * A hypervisor held in memory: an image graph (each image its own blocks over its backing) and a
 * step executor over core's plans, for fast tests of the service and the UI. Not for adapters:
 * they are tested against the real qemu-img, QEMU and libvirtd. Reading a block follows the chain
 * as qcow2 does, so a test can still check the data a user would (after a revert, a merge).
 */
export class MemoryHypervisor implements Hypervisor {
	readonly uri = 'memory:';
	readonly roles = {};
	readonly unavailable = {};
	private readonly vms = new Map<string, MemoryVm>();
	private readonly images = new Map<string, MemoryImage>();

	/** A stopped VM with one empty disk per target. */
	addVm(name: string, targets: readonly string[] = ['vda']): this {
		for (const target of targets) this.images.set(`${name}-${target}.qcow2`, {backing: null, blocks: new Map(), internal: new Map()});
		this.vms.set(name, {definition: {name, disks: targets.map(target => ({target, file: `${name}-${target}.qcow2`})), current: null, snapshots: []}, running: false, pending: null, journal: [], locked: null});
		return this;
	}

	/** The guest writes `pattern` into block `block` of a disk (its active image). */
	write(vm: string, block: number, pattern: number, target = 'vda'): void {
		this.image(this.activeFile(vm, target)).blocks.set(block, pattern);
	}

	/** What the guest reads in block `block` of a disk now: the chain, top down; 0 where nothing was written. */
	read(vm: string, block: number, target = 'vda'): number {
		for (let file: string | null = this.activeFile(vm, target); file !== null; file = this.image(file).backing) {
			const value = this.image(file).blocks.get(block);
			if (value !== undefined) return value;
		}
		return 0;
	}

	journalOf(vm: string): readonly JournalEntry[] {
		return this.vm(vm).journal;
	}

	private vm(name: string): MemoryVm {
		const vm = this.vms.get(name);
		if (!vm) throw new SnapdeckError('not-found', `there is no VM '${name}' in ${this.uri}`, undefined, 'no-such-vm');
		return vm;
	}

	private image(file: string): MemoryImage {
		const image = this.images.get(file);
		if (!image) throw new Error(`no image ${file}`);
		return image;
	}

	private activeFile(vm: string, target: string): string {
		return this.vm(vm).definition.disks.find(disk => disk.target === target)!.file;
	}

	private chain(file: string): string[] {
		const chain: string[] = [];
		for (let at: string | null = file; at !== null; at = this.image(at).backing) chain.push(at);
		return chain;
	}

	async list(): Promise<VmSummary[]> {
		return [...this.vms.values()].map(({definition, running}) => ({
			name: definition.name, state: running ? 'running' : 'stopped', current: definition.current, snapshots: definition.snapshots.length, error: null,
			chainDepth: Math.max(...definition.disks.map(disk => this.chain(disk.file).length)),
			disks: definition.disks.map(disk => ({target: disk.target, file: disk.file, virtualSize: SIZE, chain: this.chain(disk.file)})),
		}));
	}

	async inspect(name: string): Promise<Inspection> {
		const {definition, running} = this.vm(name);
		const reached = new Set([...definition.disks, ...definition.snapshots.flatMap(snapshot => snapshot.disks)].flatMap(disk => this.chain(disk.file)));
		const images: Record<string, ImageInfo> = Object.fromEntries([...reached].map(file => {
			const image = this.image(file);
			return [file, {file, format: 'qcow2', virtualSize: SIZE, actualSize: image.blocks.size * 65536, backing: image.backing, bitmaps: [],
				internalSnapshots: [...image.internal.keys()].map(internal => ({name: internal, vmStateSize: 0, createdAt: new Date(0).toISOString()}))}];
		}));
		return {state: {definition: structuredClone(definition), run: running ? 'running' : 'stopped', images, existingFiles: [...this.images.keys()]}, problems: [], findings: []};
	}

	async lock(name: string, command: string) {
		const vm = this.vm(name);
		if (vm.locked !== null) throw new SnapdeckError('locked', `VM '${name}' is busy: ${vm.locked}`);
		vm.locked = command;
		return async () => void (vm.locked = null);
	}

	async preflight({state}: Inspection, plan: Parameters<Hypervisor['preflight']>[1]) {
		return preflight(state, plan, {
			instant: async () => null, quiesceProblem: async () => ({message: 'no guest agent in memory', hint: 'leave out --quiesce'}), own: async () => undefined,
			damage: async files => files.map(() => null), locate: file => file, freeSpace: async () => [{where: 'memory', free: Number.MAX_SAFE_INTEGER}],
		});
	}

	executor({state}: Inspection) {
		const vm = this.vm(state.definition.name);
		const fresh = (file: string, resuming: boolean) => {
			if (this.images.has(file) && !resuming) throw new SnapdeckError('refused', `${file} already exists; snapdeck never overwrites an image`);
		};
		const handlers: StepHandlers = {
			'create-overlay': async (step, {resuming}) => {
				fresh(step.file, resuming);
				this.images.set(step.file, {backing: step.backing, blocks: new Map(), internal: new Map()});
			},
			'internal-create': async step => void this.image(step.file).internal.set(step.name, new Map(this.image(step.file).blocks)),
			'internal-apply': async step => void (this.image(step.file).blocks = new Map(this.image(step.file).internal.get(step.name))),
			'internal-delete': async step => void this.image(step.file).internal.delete(step.name),
			'copy-internal': async (step, {resuming}) => {
				fresh(step.target, resuming);
				this.images.set(step.target, {backing: step.backing, blocks: new Map(this.image(step.source).internal.get(step.name)), internal: new Map()});
			},
			commit: async step => {
				const base = this.image(step.base);
				for (const [block, value] of this.image(step.top).blocks) base.blocks.set(block, value);
			},
			rebase: async step => {
				const image = this.image(step.file);
				if (step.copy) {
					// What the old chain held above the new backing comes into the image itself.
					const keep = new Set(step.backing === null ? [] : this.chain(step.backing));
					for (const file of this.chain(image.backing ?? '').filter(file => file !== '' && !keep.has(file))) {
						for (const [block, value] of this.image(file).blocks) if (!image.blocks.has(block)) image.blocks.set(block, value);
					}
				}
				image.backing = step.backing;
			},
			'delete-image': async step => void this.images.delete(step.file),
			'write-definition': async step => void (vm.definition = structuredClone(step.definition)),
			'stop-vm': async () => void (vm.running = false),
			'start-vm': async () => void (vm.running = true),
			...refuseSteps(['write-manifest'], op => new Error(`internal: a VM's plan has no ${op} step`)),
		};
		return {
			execute: (step: Parameters<typeof handleStep>[1], context: Parameters<typeof handleStep>[2]) => handleStep(handlers, step, context),
			rollback: async (step: Parameters<typeof handleStep>[1]) => {
				if (step.op === 'create-overlay') this.images.delete(step.file);
			},
		};
	}

	operations(name: string): OperationStore {
		const vm = this.vm(name);
		return {
			readPending: async () => vm.pending,
			writePending: async pending => void (vm.pending = pending),
			clearPending: async () => void (vm.pending = null),
			appendJournal: async entry => void vm.journal.push(entry),
		};
	}
}
