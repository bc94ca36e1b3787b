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

/**
 * Proxmox Backup Server's prune selection: rule by rule (last, hourly, ... yearly), newest first,
 * keep the newest point of each period not already covered by a point an earlier rule kept, until
 * the rule's count of periods is reached. Everything not kept is removed. No rule keeps everything.
 */
export function selectRetention(points: readonly Dated[], retention: Retention): {keep: string[]; remove: string[]} {
	const newestFirst = [...points].sort((a, b) => Date.parse(b.createdAt) - Date.parse(a.createdAt));
	if (RETENTION_RULES.every(rule => retention[rule] === undefined))
		return {keep: newestFirst.map(point => point.id), remove: []};
	const mark = new Map<string, 'keep' | 'remove'>();
	for (const rule of RETENTION_RULES) {
		const count = retention[rule];
		if (count === undefined) continue;
		const period = (point: Dated) => PERIOD[rule](new Date(point.createdAt), point.id);
		const covered = new Set(newestFirst.filter(point => mark.get(point.id) === 'keep').map(period));
		const chosen = new Set<string>();
		for (const point of newestFirst) {
			if (mark.has(point.id)) continue;
			const key = period(point);
			if (covered.has(key)) continue;
			if (chosen.has(key)) {
				mark.set(point.id, 'remove');
				continue;
			}
			if (chosen.size >= count) break;
			chosen.add(key);
			mark.set(point.id, 'keep');
		}
	}
	const keep = newestFirst.filter(point => mark.get(point.id) === 'keep').map(point => point.id);
	return {keep, remove: newestFirst.filter(point => mark.get(point.id) !== 'keep').map(point => point.id)};
}
