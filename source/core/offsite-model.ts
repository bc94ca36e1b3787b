import {z} from 'zod';
import {POINT_ID, type BackupPoint} from './backup-manifest.js';
import {NAME_PATTERN} from './names.js';
import {CronText} from './policy.js';
import {Retention} from './retention.js';
// Also imported from here; its module of its own, without zod, is what core/health.ts (the UI's first frame) loads.
export {isRecordOf} from './credentials.js';

/** An off-site target in the config ("offsite": {"NAME": {...}}). */
export const OffsiteTarget = z.strictObject({
	/** A restic repository string: a path, sftp:USER@HOST:/PATH, rest:URL, s3:..., rclone:REMOTE:PATH... */
	repository: z.string().min(1),
	/** A file holding the repository's password. */
	passwordFile: z.string().min(1).optional(),
	/** A command that prints the password (restic's --password-command). */
	passwordCommand: z.string().min(1).optional(),
	/** restic's extended options (-o KEY=VALUE), e.g. {"sftp.command": "ssh -p 2222 backup@host -s sftp"}. */
	options: z.record(z.string(), z.string()).optional(),
	/** What 'snapdeck prune VM --from NAME' keeps there (the same rules as local retention). */
	retention: Retention.optional(),
	/** When 'snapdeck run' copies to it (cron), for policies that name it without a schedule of their own; default: after every backup. */
	schedule: CronText.optional(),
});
export type OffsiteTarget = z.infer<typeof OffsiteTarget>;

/**
 * Off-site copies are restic snapshots, one per backup point. Each holds the point whole: its
 * qcow2 files, those of the points under it, and a manifest naming just that chain. restic's
 * deduplication stores a file that two snapshots share once, so a copy uploads only what is new
 * (an incremental copies its own file), and forgetting any snapshot never breaks another.
 */

/** The tags of an off-site snapshot: `snapdeck`, then KEY=VALUE with the value URI-encoded (restic splits tag lists at commas). */
export const OFFSITE_TAG = 'snapdeck';

export function offsiteTags(vm: string, point: BackupPoint): string[] {
	return [
		OFFSITE_TAG,
		`vm=${encodeURIComponent(vm)}`,
		`point=${point.id}`,
		`kind=${point.kind}`,
		...(point.parent === null ? [] : [`parent=${point.parent}`]),
		...point.files.map(file => `disk=${encodeURIComponent(file.disk)}`),
		`compression=${point.compression}`,
		...(point.archive === null ? [] : [`archive=${point.archive.length}`]),
	];
}

/** The restic tag filter that selects one VM's snapshots (`--tag A,B` means both). */
export const vmTagFilter = (vm: string) => `${OFFSITE_TAG},vm=${encodeURIComponent(vm)}`;

/** A snapshot as `restic snapshots --json` lists it; checked, since a target is not ours alone. */
export const ResticSnapshot = z.looseObject({
	id: z.string().regex(/^[0-9a-f]{64}$/),
	short_id: z.string().optional(),
	time: z.string(),
	hostname: z.string().optional(),
	paths: z.array(z.string()).nullable().optional(),
	tags: z.array(z.string()).nullable().optional(),
});
export type ResticSnapshot = z.infer<typeof ResticSnapshot>;

/** A backup point as an off-site target holds it. */
export interface RemotePoint {
	/** restic's snapshot id. */
	readonly snapshot: string;
	readonly id: string;
	readonly kind: 'full' | 'incremental';
	readonly parent: string | null;
	readonly disks: readonly string[];
	/** When the point was taken (from its id). */
	readonly createdAt: string;
	/** When it was copied (the snapshot's time). */
	readonly copiedAt: string;
	readonly host: string | null;
	/** The folders the snapshot holds, as restic recorded them (a copy from here: its staging folder). */
	readonly paths?: readonly string[];
	/** Another snapshot on the target claims the same point id (one of them was not made by snapdeck's copy of this point). */
	readonly duplicate: boolean;
}

/** The time a point id names ("20261125T121314Z" -> 2026-11-25T12:13:14.000Z). */
export function pointTime(id: string): string {
	const match = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z/.exec(id)!;
	return new Date(
		Date.UTC(
			Number(match[1]),
			Number(match[2]) - 1,
			Number(match[3]),
			Number(match[4]),
			Number(match[5]),
			Number(match[6]),
		),
	).toISOString();
}

/**
 * The points of `vm` among a target's snapshots, oldest first; snapshots that are not snapdeck's,
 * not this VM's, or whose tags do not read as a point are left out (and counted).
 */
export function remotePoints(
	snapshots: readonly ResticSnapshot[],
	vm: string,
): {points: RemotePoint[]; ignored: number} {
	const points: RemotePoint[] = [];
	let ignored = 0;
	for (const snapshot of snapshots) {
		const tags = snapshot.tags ?? [];
		const values = (key: string) =>
			tags
				.filter(tag => tag.startsWith(`${key}=`))
				.map(tag => {
					try {
						return decodeURIComponent(tag.slice(key.length + 1));
					} catch {
						return '';
					}
				});
		const [id] = values('point');
		const [kind] = values('kind');
		const parent = values('parent')[0] ?? null;
		const disks = values('disk');
		const valid =
			tags.includes(OFFSITE_TAG) &&
			values('vm').length === 1 &&
			values('vm')[0] === vm &&
			id !== undefined &&
			POINT_ID.test(id) &&
			(kind === 'full' || kind === 'incremental') &&
			(parent === null || POINT_ID.test(parent)) &&
			(kind === 'full') === (parent === null) &&
			disks.length > 0 &&
			disks.every(disk => NAME_PATTERN.test(disk));
		if (!valid) {
			ignored++;
			continue;
		}
		points.push({
			snapshot: snapshot.id,
			id,
			kind,
			parent,
			disks,
			createdAt: pointTime(id),
			copiedAt: snapshot.time,
			host: snapshot.hostname ?? null,
			paths: snapshot.paths ?? [],
			duplicate: false,
		});
	}
	points.sort((a, b) => a.id.localeCompare(b.id) || a.copiedAt.localeCompare(b.copiedAt));
	const claims = new Map<string, number>();
	for (const point of points) claims.set(point.id, (claims.get(point.id) ?? 0) + 1);
	return {points: points.map(point => (claims.get(point.id)! > 1 ? {...point, duplicate: true} : point)), ignored};
}

/** One copy this host made: the point, and the restic snapshot (its whole id) that holds it. */
export const OffsiteCopy = z.object({
	at: z.iso.datetime({offset: true}),
	point: z.string().regex(POINT_ID),
	snapshot: z.string().regex(/^[0-9a-f]{64}$/),
});
export type OffsiteCopy = z.infer<typeof OffsiteCopy>;

/** What this host knows of a VM's copies to one target: kept beside its local backups, read by health. */
export const OffsiteRecord = z.object({
	/** The target's restic repository string. */
	repository: z.string(),
	/** Its name in the config, where it has one. */
	name: z.string().nullable(),
	lastCopy: z
		.object({
			at: z.iso.datetime({offset: true}),
			point: z.string().regex(POINT_ID),
			snapshot: z.string(),
			uploaded: z.number().int().nonnegative(),
		})
		.nullable(),
	lastCheck: z
		.object({at: z.iso.datetime({offset: true}), ok: z.boolean(), readData: z.string(), message: z.string()})
		.nullable(),
	/**
	 * Every copy this host made there, of every point (a point copied twice is here twice): what
	 * tells this host's snapshots from ones someone else added with the target's password.
	 */
	copies: z.array(OffsiteCopy).default([]),
	/**
	 * Copies begun and not yet recorded: the point, and the staging folder (its name holds the
	 * job's random token) that restic records as the snapshot's path. A copy killed after restic
	 * made its snapshot is recognised by it, the next time, instead of being made twice.
	 */
	pending: z
		.array(
			z.object({at: z.iso.datetime({offset: true}), point: z.string().regex(POINT_ID), staging: z.string().min(1)}),
		)
		.default([]),
});
export type OffsiteRecord = z.infer<typeof OffsiteRecord>;

export const OffsiteState = z.object({version: z.literal(1), targets: z.array(OffsiteRecord)});
export type OffsiteState = z.infer<typeof OffsiteState>;
