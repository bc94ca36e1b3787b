import {z} from 'zod';

/** How many of each kind of point to keep, as Proxmox Backup Server counts them. */
export const Retention = z.object({
	last: z.number().int().positive().optional(),
	hourly: z.number().int().positive().optional(),
	daily: z.number().int().positive().optional(),
	weekly: z.number().int().positive().optional(),
	monthly: z.number().int().positive().optional(),
	yearly: z.number().int().positive().optional(),
});
export type Retention = z.infer<typeof Retention>;

export const RETENTION_RULES = ['last', 'hourly', 'daily', 'weekly', 'monthly', 'yearly'] as const;

const pad = (n: number) => String(n).padStart(2, '0');

/** ISO 8601 week-numbering year and week of a local date ("%G/%V"). */
function isoWeek(date: Date): string {
	const day = new Date(date.getFullYear(), date.getMonth(), date.getDate());
	const weekday = (day.getDay() + 6) % 7; // Monday = 0
	day.setDate(day.getDate() - weekday + 3); // the Thursday of this week decides its year
	const firstThursday = new Date(day.getFullYear(), 0, 4);
	const week =
		1 +
		Math.round(((day.getTime() - firstThursday.getTime()) / 86_400_000 - 3 + ((firstThursday.getDay() + 6) % 7)) / 7);
	return `${day.getFullYear()}/${pad(week)}`;
}

/** The period a point falls in for each rule, in local time as PBS uses. */
const PERIOD: Record<(typeof RETENTION_RULES)[number], (date: Date, id: string) => string> = {
	last: (_date, id) => id,
	hourly: date => `${date.getFullYear()}/${pad(date.getMonth() + 1)}/${pad(date.getDate())}/${pad(date.getHours())}`,
	daily: date => `${date.getFullYear()}/${pad(date.getMonth() + 1)}/${pad(date.getDate())}`,
	weekly: isoWeek,
	monthly: date => `${date.getFullYear()}/${pad(date.getMonth() + 1)}`,
	yearly: date => String(date.getFullYear()),
};

export interface Dated {
	readonly id: string;
	readonly createdAt: string;
}

/** What the selection decided of one point, and why: the rule and period that kept it, or what left it out. */
export interface RetentionDecision {
	readonly id: string;
	readonly createdAt: string;
	readonly keep: boolean;
	/** The rule that kept it, or whose period already had a newer point kept; null where no rule reached it. */
	readonly rule: (typeof RETENTION_RULES)[number] | null;
	/** That rule's period the point falls in ('2026/11/23' for daily, '2026/47' for weekly, its id for last). */
	readonly period: string | null;
	/** The point kept in its stead, where a newer one of the same period was. */
	readonly newer: string | null;
}

/**
 * Proxmox Backup Server's prune selection: rule by rule (last, hourly, ... yearly), newest first,
 * keep the newest point of each period not already covered by a point an earlier rule kept, until
 * the rule's count of periods is reached. Everything not kept is removed. No rule keeps everything.
 * Each point's decision, newest first.
 */
export function retentionDecisions(points: readonly Dated[], retention: Retention): RetentionDecision[] {
	const newestFirst = [...points].sort((a, b) => Date.parse(b.createdAt) - Date.parse(a.createdAt));
	const none = RETENTION_RULES.every(rule => retention[rule] === undefined);
	const decided = new Map<string, Omit<RetentionDecision, 'id' | 'createdAt'>>();
	for (const rule of none ? [] : RETENTION_RULES) {
		const count = retention[rule];
		if (count === undefined) continue;
		const period = (point: Dated) => PERIOD[rule](new Date(point.createdAt), point.id);
		const covered = new Set(newestFirst.filter(point => decided.get(point.id)?.keep).map(period));
		const chosen = new Map<string, string>();
		for (const point of newestFirst) {
			if (decided.has(point.id)) continue;
			const key = period(point);
			if (covered.has(key)) continue;
			const newer = chosen.get(key);
			if (newer !== undefined) {
				decided.set(point.id, {keep: false, rule, period: key, newer});
				continue;
			}
			if (chosen.size >= count) break;
			chosen.set(key, point.id);
			decided.set(point.id, {keep: true, rule, period: key, newer: null});
		}
	}
	return newestFirst.map(point => ({
		id: point.id,
		createdAt: point.createdAt,
		...(decided.get(point.id) ?? {keep: none, rule: null, period: null, newer: null}),
	}));
}

/** The points to keep and to remove, newest first (retentionDecisions, without the reasons). */
export function selectRetention(points: readonly Dated[], retention: Retention): {keep: string[]; remove: string[]} {
	const decisions = retentionDecisions(points, retention);
	return {
		keep: decisions.filter(decision => decision.keep).map(decision => decision.id),
		remove: decisions.filter(decision => !decision.keep).map(decision => decision.id),
	};
}
