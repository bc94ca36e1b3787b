import {SnapdeckError} from './errors.js';
import type {OffsiteCopy, OffsiteRecord, RemotePoint} from './offsite-model.js';

/**
 * Who may be believed on an off-site target. Anyone with its password (or write access to an
 * append-only one) can add a snapshot with the tags of a real point and a manifest of their own
 * whose checksums match their own data: a snapshot is only this host's copy when this host's
 * record (offsite.json) names its restic id. Where there is no record (after a disaster), one
 * claim is taken, two are refused until the operator chooses.
 */

/** This host's record of its copies to one target: their snapshots, and the points they are copies of. */
export interface RecordedCopies {
	readonly snapshots: ReadonlySet<string>;
	readonly points: ReadonlySet<string>;
	/** The last copy as an older snapdeck recorded it: by restic's short id (8 digits), resolved against a listing by resolveRecorded. */
	readonly legacy: {readonly point: string; readonly prefix: string} | null;
}

const WHOLE_ID = /^[0-9a-f]{64}$/;

/** What a target's record says, or null when this host has no record of that target (after a disaster, or never copied there). */
export function recordedCopies(record: OffsiteRecord | undefined): RecordedCopies | null {
	if (!record) return null;
	const copies: readonly Pick<OffsiteCopy, 'snapshot' | 'point'>[] = record.copies.filter(copy =>
		WHOLE_ID.test(copy.snapshot),
	);
	const last = record.lastCopy;
	const legacy =
		last && /^[0-9a-f]{8}$/.test(last.snapshot) && !copies.some(copy => copy.point === last.point)
			? {point: last.point, prefix: last.snapshot}
			: null;
	return {
		snapshots: new Set(copies.map(copy => copy.snapshot)),
		points: new Set([...copies.map(copy => copy.point), ...(legacy ? [legacy.point] : [])]),
		legacy,
	};
}

/** The record with its legacy short id made whole, where exactly one listed snapshot of that point begins with it. */
export function resolveRecorded(
	recorded: RecordedCopies | null,
	points: readonly RemotePoint[],
): RecordedCopies | null {
	if (!recorded?.legacy) return recorded;
	const {point, prefix} = recorded.legacy;
	const matches = points.filter(candidate => candidate.id === point && candidate.snapshot.startsWith(prefix));
	return matches.length === 1
		? {...recorded, snapshots: new Set([...recorded.snapshots, matches[0]!.snapshot]), legacy: null}
		: recorded;
}

const isMine = (recorded: RecordedCopies | null, point: RemotePoint) =>
	recorded?.snapshots.has(point.snapshot) ?? false;

/** A point as listed, with whether this host recorded it as its copy (null: no record of this target here). */
export type ListedPoint = RemotePoint & {readonly recorded: boolean | null};

export const withRecord = (points: readonly RemotePoint[], recorded: RecordedCopies | null): ListedPoint[] =>
	points.map(point => ({...point, recorded: recorded === null ? null : isMine(recorded, point)}));

/** "abcdef01... (copied 2026-12-01 03:00:01 by host1, this host's copy)"; `mine` null: this host has no record to tell. */
export function describeClaim(point: RemotePoint, mine: boolean | null): string {
	const own = mine === true ? ", this host's copy" : mine === null ? '' : ', not a copy this host made';
	return `${point.snapshot} (copied ${point.copiedAt.replace('T', ' ').replace(/(\.\d+)?(Z|[+-]\d\d:\d\d)$/, '')} by ${point.host ?? 'an unnamed host'}${own})`;
}

/** The ids claimed by more than one snapshot, each with its claims (oldest copy first). */
export function duplicateClaims<Point extends RemotePoint>(points: readonly Point[]): Map<string, Point[]> {
	const claims = new Map<string, Point[]>();
	for (const point of points.filter(candidate => candidate.duplicate))
		claims.set(point.id, [...(claims.get(point.id) ?? []), point]);
	return claims;
}

/** What verify and backups --from say of a point two snapshots claim. */
export function duplicateProblem(id: string, claims: readonly ListedPoint[]): string {
	const mine = claims.some(claim => claim.recorded === true);
	return `point ${id} is claimed by ${claims.length} snapshots: ${claims.map(claim => describeClaim(claim, claim.recorded)).join(' and ')}; someone who holds the target's password added ${claims.length > 2 ? 'some' : 'one'} of them (${mine ? "restore uses this host's copy" : 'restore needs --snapshot ID to choose'})`;
}

export interface SnapshotChoice {
	readonly chosen: RemotePoint;
	/** Other snapshots that claim the point, not taken (and the one taken against the record): each said to the operator. */
	readonly ignored: readonly {readonly point: RemotePoint; readonly why: string}[];
}

/**
 * Which snapshot a restore of point `id` uses: the one asked for (--snapshot, a prefix of its id
 * of 8 or more digits); else this host's newest recorded copy; else the only claim there is. A
 * point this host copied whose copy is gone, or two claims and no record, are refused.
 */
export function chooseSnapshot(
	claims: readonly RemotePoint[],
	where: {vm: string; label: string; target: string},
	recorded: RecordedCopies | null,
	requested?: string,
): SnapshotChoice {
	const id = claims[0]!.id;
	const usage = `snapdeck restore ${where.vm} --from ${where.target} --point ${id} --snapshot ID --to PATH`;
	const listed = claims
		.map(claim => describeClaim(claim, recorded === null ? null : isMine(recorded, claim)))
		.join('; ');
	if (requested !== undefined) {
		const matches = claims.filter(claim => claim.snapshot.startsWith(requested));
		if (matches.length !== 1) {
			throw new SnapdeckError(
				'not-found',
				`${matches.length === 0 ? `no snapshot ${requested} of point ${id} is` : `more than one snapshot of point ${id} begins with ${requested}`} on ${where.label}`,
				`the snapshots of point ${id} there: ${listed}`,
				'no-such-point',
			);
		}
		const chosen = matches[0]!;
		return {
			chosen,
			ignored:
				recorded?.points.has(id) && !isMine(recorded, chosen)
					? [{point: chosen, why: 'chosen with --snapshot, though it is not a copy this host made'}]
					: [],
		};
	}
	const mine = claims.filter(claim => isMine(recorded, claim));
	const copiedHere = recorded?.points.has(id) ?? false;
	const chosen = mine.at(-1) ?? (claims.length === 1 && !copiedHere ? claims[0] : undefined);
	if (chosen)
		return {
			chosen,
			ignored: claims
				.filter(claim => !isMine(recorded, claim) && claim !== chosen)
				.map(point => ({point, why: 'not a copy this host made: ignored'})),
		};
	if (copiedHere) {
		throw new SnapdeckError(
			'refused',
			`the copy of point ${id} this host made is no longer on ${where.label}, and the snapshot${claims.length === 1 ? ' that claims it there was' : 's that claim it there were'} not made by it: ${listed}`,
			`someone removed this host's copy and may have added another: check who can write to the target; if you trust one of them, choose it with '${usage}'`,
			'duplicate-point',
		);
	}
	throw new SnapdeckError(
		'refused',
		`point ${id} of ${where.vm} on ${where.label} is claimed by ${claims.length} snapshots, and this host has no record of which it copied: ${listed}`,
		`someone who holds the target's password added all but one of them: check which host made each (and when), then choose one with '${usage}'`,
		'duplicate-point',
	);
}
