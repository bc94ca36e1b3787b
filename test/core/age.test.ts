import {describe, expect, it} from 'vitest';
import {ageText} from '../../source/core/describe.js';
import {formatDuration, formatWait} from '../../source/core/units.js';

describe('ages on screen', () => {
	it('count whole units, as health does: the tree, the lists and a finding about one snapshot say the same age', () => {
		const now = new Date('2026-12-04T09:05:00Z');
		// The demo's snapshots: 32 days and 22 hours old. Health said 32d, the tree beside it 33d.
		const createdAt = '2026-11-01T11:00:00.000Z';
		expect(ageText(createdAt, now)).toBe('32d');
		expect(ageText(createdAt, now)).toBe(formatDuration(now.getTime() - Date.parse(createdAt)));
		for (const minutes of [0, 1, 59, 90, 119, 120, 47 * 60 + 59, 48 * 60, 29 * 1440 + 1439, 30 * 1440]) {
			const at = new Date(now.getTime() - minutes * 60_000).toISOString();
			expect(ageText(at, now), `${minutes} minutes`).toBe(formatDuration(minutes * 60_000));
		}
		// A time a little ahead (another host's clock) is no age, not a negative one.
		expect(ageText(new Date(now.getTime() + 90_000).toISOString(), now)).toBe('0m');
	});
});

describe('waits in messages', () => {
	it('a wait under a second is named in milliseconds, never "within 0 s"; fractions of a few seconds keep a decimal', () => {
		expect(formatWait(400)).toBe('400 ms');
		expect(formatWait(0)).toBe('0 ms');
		expect(formatWait(2500)).toBe('2.5 s');
		expect(formatWait(5000)).toBe('5 s');
		expect(formatWait(9990)).toBe('10 s');
		expect(formatWait(30_000)).toBe('30 s');
		expect(formatWait(90_400)).toBe('90 s');
	});
});
