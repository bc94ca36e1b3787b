import {mkdtemp, mkdir, open, readFile, rm} from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import {localRunner} from '../../source/adapters/exec.js';
import {LocalHypervisor} from '../../source/adapters/local/local-hypervisor.js';
import {writeVmFile, type VmFile} from '../../source/adapters/local/vm-file.js';
import {QemuImg} from '../../source/adapters/qemu/qemu-img.js';
import {QemuIo} from '../../source/adapters/qemu-io.js';
import {sessionPorts} from '../../source/service/session-ports.js';
import {afterEachFile, afterEachTest} from './cleanup.js';

export const MiB = 1024 * 1024;
export const qemuImg = new QemuImg(localRunner);
export const qemuIo = new QemuIo(localRunner);

const dirs: string[] = [];
// After each test: its temp folders go, even when it failed: no temp image is left behind.
afterEachTest('temp folders', 9, async () => {
	await Promise.all(dirs.splice(0).map(dir => rm(dir, {recursive: true, force: true})));
});

/** Temp folders a file's tests share (made in beforeAll): removed after all of them. */
const held: string[] = [];
// After each test file: the temp folders its tests shared.
afterEachFile('shared temp folders', async () => {
	await Promise.all(held.splice(0).map(dir => rm(dir, {recursive: true, force: true})));
});

/** Keeps the temp folders made so far until the file's tests are all done (a lab made once in beforeAll). */
export function holdTempDirs(): void {
	held.push(...dirs.splice(0));
}

export async function tempDir(): Promise<string> {
	const dir = await mkdtemp(path.join(os.tmpdir(), 'snapdeck-test-'));
	dirs.push(dir);
	return dir;
}

/** A lab with one stopped VM whose disks are fresh, empty qcow2 images. */
export async function labWithVm(name = 'vm1', targets: string[] = ['vda'], sizeMiB = 64) {
	const root = await tempDir();
	const folder = path.join(root, name);
	await mkdir(folder);
	for (const target of targets) await qemuImg.create(path.join(folder, `${target}.qcow2`), {size: sizeMiB * MiB});
	await writeVmFile(folder, {
		version: 1,
		name,
		description: '',
		qmp: null,
		current: null,
		snapshots: [],
		disks: targets.map(target => ({target, file: `${target}.qcow2`})),
	});
	const hypervisor = new LocalHypervisor(root);
	const service = sessionPorts(hypervisor);
	const vmFile = async () => JSON.parse(await readFile(path.join(folder, 'vm.json'), 'utf8')) as VmFile;
	const activeFile = async (target = 'vda') =>
		path.join(folder, (await vmFile()).disks.find(disk => disk.target === target)!.file);
	const yes = {command: 'test', confirm: async () => true};
	return {
		root,
		folder,
		hypervisor,
		service,
		vmFile,
		activeFile,
		/** Writes `pattern` over 1 MiB at `mib` MiB of the guest disk, as the guest would. */
		write: async (pattern: number, mib: number, target = 'vda') =>
			qemuIo.write(await activeFile(target), pattern, mib * MiB, MiB),
		/** What the guest reads there now. */
		reads: async (pattern: number, mib: number, target = 'vda') =>
			qemuIo.holds(await activeFile(target), pattern, mib * MiB, MiB),
		take: (snapshot: string, kind: 'external' | 'internal' = 'external') =>
			service.perform({kind: 'take', vm: name, request: {name: snapshot, kind, now: new Date()}}, yes),
		revert: (snapshot: string) => service.perform({kind: 'revert', vm: name, snapshot}, yes),
		merge: (snapshot: string) => service.perform({kind: 'merge', vm: name, snapshot}, yes),
		/** Every image of the VM passes `qemu-img check`. */
		imagesHealthy: async () => {
			const {state} = await hypervisor.inspect(name);
			for (const file of Object.keys(state.images)) {
				const check = await qemuImg.check(path.join(folder, file));
				if (check['check-errors'] > 0 || (check.corruptions ?? 0) > 0) return false;
			}
			return true;
		},
	};
}

/**
 * Misaligns the first data cluster in `image`'s L2 table: the image still opens, but
 * `qemu-img check` finds the damage (a corruption snapdeck must refuse to build on).
 */
export async function damageL2(image: string): Promise<void> {
	const handle = await open(image, 'r+');
	try {
		const read64 = async (offset: number) => {
			const buffer = Buffer.alloc(8);
			await handle.read(buffer, 0, 8, offset);
			return buffer.readBigUInt64BE();
		};
		const l1 = Number(await read64(40));
		const l2 = Number((await read64(l1)) & 0x00ff_ffff_ffff_fe00n);
		const entry = Buffer.alloc(8);
		entry.writeBigUInt64BE((await read64(l2)) | 0x200n);
		await handle.write(entry, 0, 8, l2);
	} finally {
		await handle.close();
	}
}
