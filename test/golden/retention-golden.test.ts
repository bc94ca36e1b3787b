import {afterAll, beforeAll, describe, it} from 'vitest';
import {retentionDecisions, RETENTION_RULES, type Dated, type Retention} from '../../source/core/retention.js';
import {expectGolden} from './golden.js';

/**
 * Retention decisions pinned in test/golden/retention/: for a policy over a fixed set of dated
 * points, each point kept or dropped and why (the rule and period that kept it, the newer point
 * kept for its period, or no rule reaching it). See golden.ts.
 */

// The periods are local time, as PBS counts them: UTC here, whatever the machine's zone.
let zone: string | undefined;
beforeAll(() => {
	zone = process.env['TZ'];
	process.env['TZ'] = 'UTC';
});
afterAll(() => {
	if (zone === undefined) delete process.env['TZ'];
	else process.env['TZ'] = zone;
});

const idOf = (date: Date) => date.toISOString().replace(/[-:]|\.\d+/g, '');
const dated = (iso: string): Dated => ({id: idOf(new Date(iso)), createdAt: new Date(iso).toISOString()});

/**
 * A backup every 8 hours for the last 10 days up to 2026-12-01 02:00, one a day for a month
 * before, and the first of each month back over a year boundary.
 */
const POINTS: readonly Dated[] = [
	...Array.from({length: 30}, (_, index) =>
		dated(new Date(Date.UTC(2026, 11, 1, 2) - index * 8 * 3_600_000).toISOString()),
	),
	...Array.from({length: 30}, (_, index) =>
		dated(new Date(Date.UTC(2026, 10, 21, 23, 15) - index * 86_400_000).toISOString()),
	),
	...[9, 8, 7, 6, 5, 4, 3, 2, 1, 0].map(month => dated(new Date(Date.UTC(2026, month, 1, 4)).toISOString())),
	...[11, 10, 9].map(month => dated(new Date(Date.UTC(2025, month, 1, 4)).toISOString())),
];

const policyText = (retention: Retention) =>
	RETENTION_RULES.filter(rule => retention[rule] !== undefined)
		.map(rule => `keep-${rule} ${retention[rule]}`)
		.join(', ') || 'no rule';

/** One line per point, newest first: keep or drop, the point, and why. */
function renderDecisions(retention: Retention, points: readonly Dated[]): string {
	const decisions = retentionDecisions(points, retention);
	const kept = decisions.filter(decision => decision.keep).length;
	return [
		`policy: ${policyText(retention)} (periods in UTC)`,
		`${points.length} points: keep ${kept}, drop ${points.length - kept}`,
		...decisions.map(decision => {
			const why = decision.keep
				? decision.rule === null
					? 'no rule is set: every point is kept'
					: `${decision.rule} ${decision.period}`
				: decision.rule === null
					? 'no rule reaches it'
					: `${decision.rule} ${decision.period} keeps the newer ${decision.newer}`;
			return `${decision.keep ? 'keep' : 'drop'}  ${decision.id}  ${why}`;
		}),
	].join('\n');
}

const cases: ReadonlyArray<readonly [string, Retention]> = [
	['last-5', {last: 5}],
	['hourly-6', {hourly: 6}],
	['daily-7', {daily: 7}],
	['weekly-4', {weekly: 4}],
	['monthly-6-yearly-3', {monthly: 6, yearly: 3}],
	['mixed-policy', {last: 3, daily: 5, weekly: 3, monthly: 4, yearly: 2}],
	['no-rule', {}],
];

describe('golden files: retention decisions, with reasons', () => {
	it.each(cases)('%s', async (name, retention) => {
		await expectGolden(`retention/${name}.txt`, renderDecisions(retention, POINTS));
	});
});
