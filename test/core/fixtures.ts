import type {BackupPoint} from '../../source/core/backup-manifest.js';
import type {ImageInfo, Snapshot, VmState} from '../../source/core/model.js';

/** Pure fixtures for the planner: images by name, with sizes and internal snapshots. */
export function image(
	file: string,
	backing: string | null,
	actualSize = 1_000_000,
	internal: string[] = [],
): ImageInfo {
	return {
		file,
		format: 'qcow2',
		virtualSize: 64 << 20,
		actualSize,
		backing,
		bitmaps: [],
		internalSnapshots: internal.map(name => ({name, vmStateSize: 0, createdAt: '2026-01-01T00:00:00.000Z'})),
	};
}

export function snapshot(
	name: string,
	parent: string | null,
	file: string,
	kind: 'external' | 'internal' = 'external',
	minute = 0,
): Snapshot {
	return {
		name,
		parent,
		kind,
		memory: false,
		quiesced: false,
		description: '',
		createdAt: `2026-01-01T00:${String(minute).padStart(2, '0')}:00.000Z`,
		disks: [{target: 'vda', file}],
	};
}

export function vmState(active: string, current: string | null, snapshots: Snapshot[], images: ImageInfo[]): VmState {
	return {
		definition: {name: 'vm1', disks: [{target: 'vda', file: active}], current, snapshots},
		run: 'stopped',
		images: Object.fromEntries(images.map(info => [info.file, info])),
		existingFiles: ['vm.json', ...images.map(info => info.file)],
	};
}

/** A complete backup point `id` built on `parent` (a full without one), a file of `size` bytes per disk. */
export function backupPoint(id: string, parent: string | null, size: number, disks = ['vda']): BackupPoint {
	return {
		id,
		kind: parent === null ? 'full' : 'incremental',
		createdAt: '2026-11-25T10:00:00.000Z',
		parent,
		state: 'complete',
		bitmap: `b.${id}`,
		reason: '',
		definition: {},
		verified: null,
		boot: null,
		compression: 'none',
		archive: null,
		identity: null,
		bootFiles: [],
		audit: null,
		files: disks.map(disk => ({
			disk,
			file: `${disk}/${id}.qcow2`,
			backing: parent === null ? null : `${disk}/${parent}.qcow2`,
			virtualSize: 1 << 30,
			size,
			sha256: 'a'.repeat(64),
		})),
	};
}
