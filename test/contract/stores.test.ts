import {readdir, stat} from 'node:fs/promises';
import path from 'node:path';
import {QCOW2_STORES} from '../../source/core/qcow2-store-plans.js';
import {imageFolder, type ImageFolder} from '../../source/adapters/qemu/image-folder.js';
import {readImageGraph} from '../../source/adapters/qemu/image-graph.js';
import {qcow2InternalStore} from '../../source/adapters/qemu/qcow2-internal-store.js';
import {qcow2OverlayStore} from '../../source/adapters/qemu/qcow2-overlay-store.js';
import {MiB, qemuImg, qemuIo, tempDir} from '../helpers/lab.js';
import {snapshotStoreContract, type StoreFixture} from './snapshot-store-contract.js';

/** The contract on the two qcow2 stores, each in a folder of real images, as a stopped VM's are. */
async function qcow2Fixture(
	kind: 'external' | 'internal',
	make: (images: ImageFolder) => StoreFixture['store'],
): Promise<StoreFixture> {
	const folder = await tempDir();
	const elsewhere = await tempDir();
	await qemuImg.create(path.join(folder, 'disk.qcow2'), {size: 16 * MiB});
	const at = (file: string) => path.join(folder, file);
	let kept = 0;
	return {
		planning: QCOW2_STORES[kind],
		store: make(imageFolder(folder, qemuImg)),
		disk: 'disk.qcow2',
		async inspect(definition) {
			const {images, problems} = await readImageGraph(qemuImg, folder, definition, 'the contract', {
				readsFiles: true,
				confine: true,
			});
			if (problems.length > 0) throw new Error(problems.join('; '));
			return {definition, run: 'stopped', images, existingFiles: await readdir(folder)};
		},
		write: (file, pattern, mib) => qemuIo.write(at(file), pattern, mib * MiB, MiB),
		reads: (file, pattern, mib) => qemuIo.holds(at(file), pattern, mib * MiB, MiB),
		async keep(file) {
			const copy = path.join(elsewhere, `kept-${++kept}.qcow2`);
			await qemuImg.convert(at(file), copy);
			return copy;
		},
		same: (file, copy) => qemuImg.same(at(file), copy),
		files: async () => (await readdir(folder)).sort(),
		used: async () => {
			const sizes = await Promise.all((await readdir(folder)).map(async file => (await stat(at(file))).blocks * 512));
			return sizes.reduce((sum, size) => sum + size, 0);
		},
	};
}

snapshotStoreContract('qcow2 overlays (external)', () => qcow2Fixture('external', qcow2OverlayStore));
snapshotStoreContract('qcow2 internal snapshots', () => qcow2Fixture('internal', qcow2InternalStore));
