import {z} from 'zod';
import {POINT_ID, type BackupPoint} from './backup.js';
import {NAME_PATTERN} from './names.js';
import {CronText} from './policy.js';
import {Retention} from './retention.js';

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
		OFFSITE_TAG, `vm=${encodeURIComponent(vm)}`, `point=${point.id}`, `kind=${point.kind}`,
		...(point.parent === null ? [] : [`parent=${point.parent}`]),
		...point.files.map(file => `disk=${encodeURIComponent(file.disk)}`),
		`compression=${point.compression}`,
		...(point.archive === null ? [] : [`archive=${point.archive.length}`]),
	];
}

/**
 * The points more than one snapshot claims, each with its claims (oldest copy first). snapdeck
 * copies a point once (a copy finds it there and stops), so all but one of them were added by
 * someone else with the target's password: none of them is restored, and a check reports them.
 */
export function claimedTwice(points: readonly RemotePoint[]): Map<string, RemotePoint[]> {
	const claims = new Map<string, RemotePoint[]>();
	for (const point of points) claims.set(point.id, [...(claims.get(point.id) ?? []), point]);
	return new Map([...claims].filter(([, list]) => list.length > 1));
}

/** The snapshots that claim one point, in words: their ids, when they were copied, and from which host. */
export const describeClaims = (claims: readonly RemotePoint[]) =>
	claims.map(claim => `snapshot ${claim.snapshot.slice(0, 8)}, copied ${claim.copiedAt} from ${claim.host ?? 'an unnamed host'}`).join('; ');

/** The restic tag filter that selects one VM's snapshots (`--tag A,B` means both). */
export const vmTagFilter = (vm: string) => `${OFFSITE_TAG},vm=${encodeURIComponent(vm)}`;

/** A snapshot as `restic snapshots --json` lists it; checked, since a target is not ours alone. */
export const ResticSnapshot = z.looseObject({
	id: z.string().regex(/^[0-9a-f]{64}$/),
	short_id: z.string().optional(),
	time: z.string(),
	hostname: z.string().optional(),
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
}

/** The time a point id names ("20261125T121314Z" -> 2026-11-25T12:13:14.000Z). */
export function pointTime(id: string): string {
	const match = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z/.exec(id)!;
	return new Date(Date.UTC(Number(match[1]), Number(match[2]) - 1, Number(match[3]), Number(match[4]), Number(match[5]), Number(match[6]))).toISOString();
}

/**
 * The points of `vm` among a target's snapshots, oldest first; snapshots that are not snapdeck's,
 * not this VM's, or whose tags do not read as a point are left out (and counted).
 */
export function remotePoints(snapshots: readonly ResticSnapshot[], vm: string): {points: RemotePoint[]; ignored: number} {
	const points: RemotePoint[] = [];
	let ignored = 0;
	for (const snapshot of snapshots) {
		const tags = snapshot.tags ?? [];
		const values = (key: string) => tags.filter(tag => tag.startsWith(`${key}=`)).map(tag => {
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
		const valid = tags.includes(OFFSITE_TAG) && values('vm').length === 1 && values('vm')[0] === vm && id !== undefined && POINT_ID.test(id)
			&& (kind === 'full' || kind === 'incremental') && (parent === null || POINT_ID.test(parent)) && (kind === 'full') === (parent === null)
			&& disks.length > 0 && disks.every(disk => NAME_PATTERN.test(disk));
		if (!valid) {
			ignored++;
			continue;
		}
		points.push({snapshot: snapshot.id, id, kind, parent, disks, createdAt: pointTime(id), copiedAt: snapshot.time, host: snapshot.hostname ?? null});
	}
	points.sort((a, b) => a.id.localeCompare(b.id) || a.copiedAt.localeCompare(b.copiedAt));
	return {points, ignored};
}

/** What this host knows of a VM's copies to one target: kept beside its local backups, read by health. */
export const OffsiteRecord = z.object({
	/** The target's restic repository string. */
	repository: z.string(),
	/** Its name in the config, where it has one. */
	name: z.string().nullable(),
	lastCopy: z.object({at: z.iso.datetime({offset: true}), point: z.string().regex(POINT_ID), snapshot: z.string(), uploaded: z.number().int().nonnegative()}).nullable(),
	lastCheck: z.object({at: z.iso.datetime({offset: true}), ok: z.boolean(), readData: z.string(), message: z.string()}).nullable(),
});
export type OffsiteRecord = z.infer<typeof OffsiteRecord>;

export const OffsiteState = z.object({version: z.literal(1), targets: z.array(OffsiteRecord)});
export type OffsiteState = z.infer<typeof OffsiteState>;
