import {readFile} from 'node:fs/promises';
import path from 'node:path';
import {z} from 'zod';
import {errorMessage, SnapdeckError} from '../../core/errors.js';
import {VmDefinition} from '../../core/model.js';
import {writeJsonAtomic} from '../state/atomic-file.js';

/**
 * `DIR/<vm>/vm.json`, the local adapter's record of a VM (documented in the README). Image files
 * are named relative to the VM's folder.
 */
/** How to start the VM's QEMU; the disks come from `disks` (the active images) at each start. */
/** A file named by vm.json: relative to the VM's folder, never leaving it (no '..', not absolute). */
const InFolder = z
	.string()
	.min(1)
	.max(255)
	.refine(
		name => !path.isAbsolute(name) && !name.split(/[\\/]/).includes('..') && !name.includes(','),
		'a file inside the VM\'s folder, without ".." or ","',
	);

export const QemuConfig = z.strictObject({
	machine: z
		.string()
		.regex(/^[a-z0-9.-]+$/)
		.default('q35'),
	memoryMiB: z
		.number()
		.int()
		.min(16)
		.max(1 << 20)
		.default(256),
	/**
	 * QEMU's accelerator: "kvm:tcg" (KVM, else software), or "tcg" where KVM is there but cannot run
	 * the guest (a stock kernel hangs under the kvm-pvm of some cloud machines: see LAB.md).
	 */
	accel: z.enum(['kvm:tcg', 'kvm', 'tcg']).default('kvm:tcg'),
	/** A direct kernel boot: the kernel, its initramfs and command line (files in the VM's folder). */
	kernel: z
		.strictObject({file: InFolder, initrd: InFolder.nullable().default(null), append: z.string().max(4096).default('')})
		.nullable()
		.default(null),
	/** The guest agent's socket (a virtio-serial port named org.qemu.guest_agent.0), relative to the folder. */
	agent: InFolder.nullable().default(null),
	/** Where the serial console is written, relative to the folder. */
	console: InFolder.nullable().default(null),
	/** A display device (std VGA, shown nowhere), so that a screenshot can be taken. */
	display: z.boolean().default(false),
	/** More arguments for qemu-system-x86_64, passed as they are (never through a shell). */
	args: z.array(z.string()).default([]),
});
export type QemuConfig = z.infer<typeof QemuConfig>;

export const VmFile = VmDefinition.extend({
	version: z.literal(1),
	/** The VM's identity on this host (core/identity.ts), given at creation; a VM made before has none (its folder stands in). */
	uuid: z
		.string()
		.regex(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/)
		.optional(),
	description: z.string().default(''),
	/** The QMP socket of a running QEMU, relative to the VM's folder or absolute. */
	qmp: z.string().nullable().default(null),
	/** Present when snapdeck may start and stop this VM itself (`snapdeck start`, revert with restart). */
	qemu: QemuConfig.nullable().default(null),
	/**
	 * An instant restore still streaming: the disks' backing chains lie in this folder of a backup
	 * repository (absolute), the point's, until the stream has copied them in; null otherwise.
	 */
	instant: z
		.strictObject({
			repository: z.string().refine(text => path.isAbsolute(text), 'an absolute path'),
			point: z.string().regex(/^[0-9A-Za-z-]+$/),
		})
		.nullable()
		.default(null),
});
export type VmFile = z.infer<typeof VmFile>;

export const VM_FILE = 'vm.json';

export async function readVmFile(folder: string): Promise<VmFile> {
	const file = path.join(folder, VM_FILE);
	let text: string;
	try {
		text = await readFile(file, 'utf8');
	} catch (error) {
		if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
			throw new SnapdeckError(
				'input',
				`${folder} has no ${VM_FILE}, so it is not a snapdeck VM folder`,
				`write a ${VM_FILE} there (see "vm.json" in the README) or move the folder out of the lab`,
			);
		}
		throw error;
	}
	let json: unknown;
	try {
		json = JSON.parse(text);
	} catch (error) {
		throw new SnapdeckError(
			'input',
			`${file} is not valid JSON: ${errorMessage(error)}`,
			'fix the file by hand; the journal in .snapdeck/journal.jsonl has earlier versions',
		);
	}
	const parsed = VmFile.safeParse(json);
	if (!parsed.success) {
		throw new SnapdeckError(
			'input',
			`${file} does not describe a VM: ${z.prettifyError(parsed.error).replaceAll('\n', ' ')}`,
			'see "vm.json" in the README',
		);
	}
	const names = new Set<string>();
	for (const snapshot of parsed.data.snapshots) {
		if (names.has(snapshot.name)) throw new SnapdeckError('input', `${file} lists snapshot '${snapshot.name}' twice`);
		names.add(snapshot.name);
	}
	if (parsed.data.name !== path.basename(folder)) {
		throw new SnapdeckError(
			'input',
			`${file} names the VM '${parsed.data.name}' but its folder is '${path.basename(folder)}'`,
			'the folder name and "name" must agree',
		);
	}
	return parsed.data;
}

/** Validates, then writes atomically: an invalid vm.json is never written. */
export const writeVmFile = (folder: string, vm: z.input<typeof VmFile>) =>
	writeJsonAtomic(path.join(folder, VM_FILE), VmFile.parse(vm));
