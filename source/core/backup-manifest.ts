import {z} from 'zod';
import {latestPoint} from './points.js';
import {SnapdeckError} from './errors.js';
import {Name} from './model.js';
import {VmIdentity} from './identity.js';

/**
 * A point file's name as the manifest holds it: DISK/ID.qcow2, inside the VM's folder of the
 * repository. Nothing else is accepted (no absolute path, no '..'): a manifest is a file anyone
 * with write access could have changed, and prune deletes and commits into what it names.
 */
export const POINT_FILE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}\/\d{8}T\d{6}Z(?:-\d+)?\.qcow2$/;
const PointFileName = z
	.string()
	.regex(POINT_FILE, {message: "must be DISK/ID.qcow2, inside the VM's folder of the repository"});

/** One disk's file of a backup point, named relative to the VM's folder in the repository. */
export const BackupFile = z.object({
	disk: Name,
	file: PointFileName,
	/** The previous point's file this one is an overlay on (by the same relative name); null for a full. */
	backing: PointFileName.nullable(),
	virtualSize: z.number().int().nonnegative(),
	/** Bytes of the file itself. */
	size: z.number().int().nonnegative(),
	sha256: z.string().regex(/^[0-9a-f]{64}$/),
});
export type BackupFile = z.infer<typeof BackupFile>;

export const Verification = z.object({
	at: z.iso.datetime({offset: true}),
	ok: z.boolean(),
	restoreTest: z.boolean(),
	message: z.string(),
});
export type Verification = z.infer<typeof Verification>;

/** The newest boot test of a point: the verdict, and where its console log and screenshot are kept (in the VM's folder). */
export const BootTest = z.object({
	at: z.iso.datetime({offset: true}),
	ok: z.boolean(),
	message: z.string(),
	seconds: z.number().nonnegative(),
	console: z.string().regex(/^\.snapdeck\/boot\/[0-9A-Za-z-]+\/console\.log$/),
	screenshot: z
		.string()
		.regex(/^\.snapdeck\/boot\/[0-9A-Za-z-]+\/screen\.png$/)
		.nullable(),
});
export type BootTest = z.infer<typeof BootTest>;

/** Where a point's boot test keeps its console log and screenshot, relative to the VM's folder. */
export const bootFiles = (id: string) => ({
	folder: `.snapdeck/boot/${id}`,
	console: `.snapdeck/boot/${id}/console.log`,
	screenshot: `.snapdeck/boot/${id}/screen.png`,
});

/** A point id: its UTC time, sortable as text ("20261125T121314Z"), with "-2", "-3" after a clash. */
export const POINT_ID = /^\d{8}T\d{6}Z(?:-\d+)?$/;

/** An image's name in a whole-VM archive: a file name alone (no folder, no '..'), as in the VM's folder. */
export const ARCHIVE_IMAGE_NAME = /^[A-Za-z0-9][A-Za-z0-9._+-]{0,199}$/;

/**
 * One image of a whole-VM archive (backup --with-snapshots), copied as it is (its internal
 * snapshots, its bitmaps and its backing name kept): `archive/POINT/NAME` in the VM's folder.
 */
export const ArchiveImage = z.object({
	name: z.string().regex(ARCHIVE_IMAGE_NAME, {message: 'must be a file name alone'}),
	/** The archive image it is an overlay on (by name); null for a base image. */
	backing: z.string().regex(ARCHIVE_IMAGE_NAME).nullable(),
	size: z.number().int().nonnegative(),
	sha256: z.string().regex(/^[0-9a-f]{64}$/),
});
export type ArchiveImage = z.infer<typeof ArchiveImage>;

/** A file the VM needs to start that is no disk, kept with a point: the kernel and initramfs of a direct-boot VM, UEFI's variables. */
export const BootFile = z.object({
	role: z.enum(['kernel', 'initrd', 'nvram']),
	/** How the VM's definition names it (vm.json: relative to the VM's folder; libvirt: a path on the host). */
	name: z.string().min(1).max(4096),
	/** Where the point keeps it: boot/ID/NAME in the VM's folder of the repository. */
	file: z.string().regex(/^boot\/\d{8}T\d{6}Z(?:-\d+)?\/[A-Za-z0-9][A-Za-z0-9._+-]{0,199}$/, {
		message: "must be boot/ID/NAME, inside the VM's folder of the repository",
	}),
	size: z.number().int().nonnegative(),
	sha256: z.string().regex(/^[0-9a-f]{64}$/),
});
export type BootFile = z.infer<typeof BootFile>;

/** Where point `id` keeps a boot file, relative to the VM's folder in the repository. */
export const bootFileOf = (id: string, role: BootFile['role']) => `boot/${id}/${role}`;

/**
 * An audit of a point (backup --audit): each disk as it was at the backup's instant compared with
 * what the point's chain restores; where they differ, which byte ranges (writes a dirty bitmap
 * never recorded).
 */
export const PointAudit = z.object({
	at: z.iso.datetime({offset: true}),
	ok: z.boolean(),
	seconds: z.number().nonnegative(),
	disks: z.array(
		z.object({
			disk: Name,
			ok: z.boolean(),
			ranges: z.array(z.object({start: z.number().int().nonnegative(), length: z.number().int().positive()})),
		}),
	),
});
export type PointAudit = z.infer<typeof PointAudit>;

/** Where an archive image of point `id` is, relative to the VM's folder in the repository. */
export const archiveFile = (id: string, name: string) => `archive/${id}/${name}`;

export const BackupPoint = z.object({
	id: z.string().regex(POINT_ID),
	kind: z.enum(['full', 'incremental']),
	createdAt: z.iso.datetime({offset: true}),
	/** The point this one is an increment over; null for a full. */
	parent: z.string().regex(POINT_ID).nullable(),
	/** partial: being written (or interrupted); only complete points are restorable. */
	state: z.enum(['complete', 'partial']),
	files: z.array(BackupFile).min(1),
	/** The dirty bitmap (on every disk's active image) that tracks writes since this point; null when none was made. */
	bitmap: z.string().nullable(),
	/** Why a full was taken where an incremental was asked for by 'auto'. */
	reason: z.string().default(''),
	/** The VM's definition when the point was taken, as the adapter keeps it (vm.json, domain XML). */
	definition: z.unknown(),
	verified: Verification.nullable().default(null),
	/** The newest boot test (verify --boot); null when it was never booted. */
	boot: BootTest.nullable().default(null),
	/** How the point's clusters are stored: zstd-compressed, or plain (older points, --no-compress). */
	compression: z.enum(['none', 'zstd']).default('none'),
	/** With --with-snapshots: every image of the VM's snapshot tree, as it was; null for a backup of the present state only. */
	archive: z.array(ArchiveImage).nullable().default(null),
	/** What the adapter restores an archive from, where `definition` is not enough (libvirt: the domain and each snapshot's XML). */
	archiveDefinition: z.unknown().optional(),
	/** Which VM it is a point of (core/identity.ts); null for a point an older snapdeck took. */
	identity: VmIdentity.nullable().default(null),
	/** What the VM needs to start besides its disks (a direct-boot kernel and initramfs, UEFI variables), as it was; a boot test and a restore use these, never the live VM's. */
	bootFiles: z.array(BootFile).default([]),
	/** The newest audit of the point (backup --audit); null when it was never audited. */
	audit: PointAudit.nullable().default(null),
});
export type BackupPoint = z.infer<typeof BackupPoint>;

export const Manifest = z
	.object({
		version: z.literal(1),
		vm: Name,
		/** Whose backups these are: every point in the folder is of this VM; null in a folder an older snapdeck wrote (adopted by the first VM of that name to write it). */
		identity: VmIdentity.nullable().default(null),
		/** Oldest first. */
		points: z.array(BackupPoint),
	})
	.superRefine((manifest, context) => {
		for (const problem of manifestProblems(manifest))
			context.addIssue({code: 'custom', message: problem, path: ['points']});
	});

/**
 * What makes a manifest contradict itself: a point id twice, a parent that is missing, later, or
 * loops back, a file that is not its own disk's, a file two points claim, an incremental whose
 * backing is not its parent's file of the same disk.
 */
export function manifestProblems(manifest: {points: ReadonlyArray<z.infer<typeof BackupPoint>>}): string[] {
	const problems: string[] = [];
	const index = new Map<string, number>();
	const owner = new Map<string, string>();
	manifest.points.forEach((point, at) => {
		if (index.has(point.id)) problems.push(`point ${point.id} is listed twice`);
		index.set(point.id, at);
	});
	manifest.points.forEach((point, at) => {
		const parent = point.parent === null ? undefined : manifest.points[index.get(point.parent) ?? -1];
		if (point.parent !== null && (!parent || index.get(point.parent)! >= at))
			problems.push(`point ${point.id} builds on ${point.parent}, which is not an earlier point`);
		if ((point.kind === 'full') !== (point.parent === null))
			problems.push(
				`point ${point.id} is ${point.kind === 'full' ? 'a full with a parent' : 'an incremental without a parent'}`,
			);
		for (const file of point.files) {
			if (!file.file.startsWith(`${file.disk}/`))
				problems.push(`point ${point.id} names ${file.file} for disk ${file.disk}`);
			const other = owner.get(file.file);
			if (other !== undefined) problems.push(`points ${other} and ${point.id} both name ${file.file}`);
			owner.set(file.file, point.id);
			const expected = parent?.files.find(candidate => candidate.disk === file.disk)?.file ?? null;
			if (parent && file.backing !== expected)
				problems.push(
					`${file.file} of point ${point.id} is backed by ${file.backing ?? 'nothing'}, not by its parent's ${expected ?? '(no such disk)'}`,
				);
			if (!parent && point.parent === null && file.backing !== null)
				problems.push(`${file.file} of full point ${point.id} names a backing file`);
		}
		for (const boot of point.bootFiles ?? [])
			if (!boot.file.startsWith(`boot/${point.id}/`))
				problems.push(`point ${point.id} names ${boot.file} as its ${boot.role}`);
		const names = new Set((point.archive ?? []).map(image => image.name));
		if (names.size !== (point.archive ?? []).length)
			problems.push(`the archive of point ${point.id} names an image twice`);
		for (const image of point.archive ?? []) {
			if (image.backing !== null && !names.has(image.backing))
				problems.push(
					`archive image ${image.name} of point ${point.id} is backed by ${image.backing}, which the archive does not hold`,
				);
		}
	});
	return problems;
}
export type Manifest = z.infer<typeof Manifest>;

export type BackupMode = 'auto' | 'full' | 'incremental';

/** Every dirty bitmap snapdeck's backups make is named "snapdeck.<repository>.<point>". */
export const BACKUP_BITMAP_PREFIX = 'snapdeck.';

/** A backup bitmap's (or libvirt checkpoint's) name split into its repository tag and point id; null for anyone else's. */
export function parseBackupBitmap(name: string): {tag: string; point: string} | null {
	const match = /^snapdeck\.([0-9a-f]{8})\.(\d{8}T\d{6}Z(?:-\d+)?)$/.exec(name);
	return match ? {tag: match[1]!, point: match[2]!} : null;
}

/** A disk as a backup sees it: its active image's virtual size and the bitmaps on it. */
export interface SourceDisk {
	readonly target: string;
	readonly virtualSize: number;
	readonly bitmaps: readonly {readonly name: string; readonly usable: boolean}[];
}

export interface BackupDecision {
	readonly kind: 'full' | 'incremental';
	/** The point an incremental builds on. */
	readonly base: BackupPoint | null;
	/** Why it is a full when 'auto' was asked; empty otherwise. */
	readonly reason: string;
}

/**
 * Full or incremental. An incremental needs the newest complete point and, on every disk's active
 * image, a usable bitmap named after it; bitmaps are lost after a restore, a new overlay
 * (snapshot) or a QEMU crash, and then only a full is correct.
 */
export function decideBackup(
	mode: BackupMode,
	manifest: Manifest,
	disks: readonly SourceDisk[],
	missingFiles: readonly string[] = [],
	untracked?: string,
): BackupDecision {
	if (mode === 'full') return {kind: 'full', base: null, reason: 'a full backup was asked for'};
	const base = latestPoint(manifest.points);
	const why = (() => {
		if (untracked !== undefined) return untracked;
		if (!base) return 'there is no earlier backup of this VM in the repository';
		if (missingFiles.length > 0)
			return `the files of the last backup (${base.id}) or of a point it builds on are missing: ${missingFiles.join(', ')}`;
		if (base.bitmap === null) return `the last backup (${base.id}) left no dirty bitmap to follow`;
		if (base.audit?.ok === false)
			return `the audit of the last backup (${base.id}) found writes its dirty bitmap had missed (${base.audit.disks
				.filter(disk => !disk.ok)
				.map(disk => disk.disk)
				.join(', ')}): a full starts a chain that holds them`;
		const targets = disks
			.map(disk => disk.target)
			.sort()
			.join(',');
		const backedUp = base.files
			.map(file => file.disk)
			.sort()
			.join(',');
		if (targets !== backedUp) return `the VM's disks (${targets}) are not those of the last backup (${backedUp})`;
		for (const disk of disks) {
			const file = base.files.find(candidate => candidate.disk === disk.target)!;
			if (file.virtualSize !== disk.virtualSize) return `${disk.target} was resized since the last backup (${base.id})`;
			const bitmap = disk.bitmaps.find(candidate => candidate.name === base.bitmap);
			if (!bitmap)
				return `${disk.target}'s active image has no dirty bitmap '${base.bitmap}' (lost to a snapshot, a revert, a restore or a migration since ${base.id})`;
			if (!bitmap.usable)
				return `${disk.target}'s dirty bitmap '${base.bitmap}' is inconsistent (QEMU stopped without saving it)`;
		}
		return null;
	})();
	if (why === null) return {kind: 'incremental', base, reason: ''};
	if (mode === 'incremental')
		throw new SnapdeckError(
			'refused',
			`cannot take an incremental backup: ${why}`,
			'take a full backup (--full), or leave the choice to snapdeck (no flag)',
		);
	return {kind: 'full', base: null, reason: why};
}

/** A new point id from the time, unique among `taken`. */
export function newPointId(now: Date, taken: readonly string[]): string {
	const stamp = now
		.toISOString()
		.replace(/\.\d+Z$/, 'Z')
		.replaceAll(/[-:]/g, '');
	let id = stamp;
	for (let n = 2; taken.includes(id); n++) id = `${stamp}-${n}`;
	return id;
}

/** Every point `id` depends on, itself first, down to its full. */
export function pointChain(manifest: Manifest, id: string): BackupPoint[] {
	const chain: BackupPoint[] = [];
	for (
		let point = manifest.points.find(candidate => candidate.id === id);
		point;
		point = manifest.points.find(candidate => candidate.id === point!.parent)
	) {
		chain.push(point);
		if (point.parent === null) return chain;
	}
	throw new SnapdeckError(
		'failed',
		`backup point ${id} depends on point ${chain.at(-1)?.parent ?? id}, which the manifest does not have`,
		'the repository is damaged: take a full backup',
	);
}

export const findPoint = (manifest: Manifest, id: string): BackupPoint => {
	const point = manifest.points.find(candidate => candidate.id === id);
	if (!point) {
		const known = manifest.points.map(candidate => candidate.id);
		throw new SnapdeckError(
			'not-found',
			`${manifest.vm} has no backup point '${id}'`,
			known.length > 0 ? `its points are: ${known.join(', ')}` : 'it has no backups yet',
			'no-such-point',
		);
	}
	return point;
};

/**
 * The UUID a point's recorded definition names, where it names one (a libvirt domain's <uuid>, a
 * local vm.json's "uuid"): what tells whether points of an older snapdeck are this VM's.
 */
export function definitionUuid(definition: unknown): string | null {
	if (typeof definition === 'string')
		return /<uuid>\s*([0-9a-fA-F-]{36})\s*<\/uuid>/.exec(definition)?.[1]?.toLowerCase() ?? null;
	if (
		definition !== null &&
		typeof definition === 'object' &&
		typeof (definition as {uuid?: unknown}).uuid === 'string'
	)
		return (definition as {uuid: string}).uuid.toLowerCase();
	return null;
}

/** A point's boot files by how the VM's definition names them, at `resolve(file)`: what a boot test and a restore start the VM with. */
export const bootFilesOf = (
	point: Pick<BackupPoint, 'bootFiles'>,
	resolve: (file: string) => string,
): Record<string, string> => Object.fromEntries(point.bootFiles.map(file => [file.name, resolve(file.file)]));
