import {describe, expect, it} from 'vitest';
import type {Job} from '../../source/ui/hooks/use-jobs.js';
import {messageEntries, messageRows} from '../../source/ui/messages.js';

const T0 = Date.parse('2026-11-25T12:00:00Z');
const job = (
	id: number,
	status: Job['status'],
	endedSecondsAfter: number | null,
	message: string | null = null,
	title = `job ${id}`,
): Job => ({
	id,
	title,
	vm: null,
	planFirst: false,
	status,
	step: null,
	progress: null,
	message,
	startedAt: new Date(T0).toISOString(),
	endedAt: endedSecondsAfter === null ? null : new Date(T0 + endedSecondsAfter * 1000).toISOString(),
	log: [],
	cancelAsked: false,
});
const ttl = {ended: 15_000, failed: 60_000};

/** Which messages show under the view, and in how many rows: test/ui/messages.test.tsx has them in the app on a real lab. */
describe('the messages under the view', () => {
	it('newest first, the running ones before; repeats merged; gone after their time; bounded, the rest said to be on the jobs screen', () => {
		const jobs = [
			job(1, 'done', 1, 'ok', 'verify web1'),
			job(2, 'done', 2, 'ok', 'verify web1'),
			job(3, 'failed', 3, 'no space left: free 2 GiB on /srv'),
			job(4, 'running', null),
			job(5, 'done', 4, 'ok'),
		];
		const entries = messageEntries(jobs, T0 + 5000, 0, ttl);
		expect(entries.map(entry => [entry.job.id, entry.count])).toEqual([
			[4, 1],
			[5, 1],
			[3, 1],
			[2, 2],
		]);
		// 16 s after: the successes are gone, the failure stays; cleared, it goes too.
		expect(messageEntries(jobs, T0 + 20_000, 0, ttl).map(entry => entry.job.id)).toEqual([4, 3]);
		expect(messageEntries(jobs, T0 + 20_000, T0 + 19_000, ttl).map(entry => entry.job.id)).toEqual([4]);
		const two = messageRows(entries, 40, 2, 'J');
		expect(two).toHaveLength(2);
		expect(two[1]).toMatchObject({kind: 'more', text: '+3 more: J shows every job'});
		// A failure with room: its reason whole; without, cut, saying where it is whole.
		const failure = messageEntries(
			[
				job(
					3,
					'failed',
					3,
					'cannot merge: vda.e1.qcow2 holds internal snapshots i2 (delete those internal snapshots first)',
				),
			],
			T0,
			0,
			ttl,
		);
		expect(messageRows(failure, 40, 5, 'J').map(row => ('text' in row ? row.text : row.kind))).toEqual([
			'head',
			'cannot merge: vda.e1.qcow2 holds',
			'internal snapshots i2 (delete those',
			'internal snapshots first)',
		]);
		expect(messageRows(failure, 40, 2, 'J').map(row => ('text' in row ? row.text : row.kind))).toEqual([
			'head',
			'cannot merge: vda.e1.qcow2… (J: whole)',
		]);
	});
});
