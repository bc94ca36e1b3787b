import {describe, expect, it} from 'vitest';
import {runJob, type Lock} from '../../source/jobs/run-job.js';
import type {JobStore, JournalEntry, PendingJob} from '../../source/core/plan.js';

/** Locks that write what happens to them into `log`; `refuse` names one that is held by another. */
function locks(log: string[], names: string[], refuse?: string): Lock[] {
	return names.map(name => async (command: string) => {
		if (name === refuse) throw new Error(`${name} is held by another operation`);
		log.push(`take ${name} for ${command}`);
		return async () => void log.push(`give ${name}`);
	});
}

describe('runJob: the runner of changes that are not plans of steps (backup, restore, start, stop)', () => {
	it('takes its locks in order, journals from begin to done with how long it ran, and gives the locks back in reverse', async () => {
		const log: string[] = [];
		const journal: Array<Omit<JournalEntry, 'time' | 'vm'>> = [];
		const result = await runJob({
			action: 'backup', command: 'snapdeck backup vm1', locks: locks(log, ['vm', 'repository']),
			journal: async entry => void journal.push(entry),
			run: async job => {
				log.push('checks');
				await job.begin('20261130-1', 'full');
				log.push('copies');
				return 42;
			},
			describe: value => `wrote ${value}`,
		});
		expect(result).toBe(42);
		expect(log).toEqual(['take vm for snapdeck backup vm1', 'take repository for snapdeck backup vm1', 'checks', 'copies', 'give repository', 'give vm']);
		expect(journal.map(entry => [entry.action, entry.snapshot, entry.outcome, entry.message])).toEqual([['backup', '20261130-1', 'started', 'full'], ['backup', '20261130-1', 'done', 'wrote 42']]);
		expect(journal[0]!.durationMs).toBeUndefined();
		expect(journal[1]!.durationMs).toBeGreaterThanOrEqual(0);
	});

	it('journals a failure after begin as failed, and one cancelled through its signal as cancelled; both give the locks back', async () => {
		for (const cancel of [false, true]) {
			const log: string[] = [];
			const journal: Array<Omit<JournalEntry, 'time' | 'vm'>> = [];
			const controller = new AbortController();
			const running = runJob({
				action: 'restore', command: 'test', locks: locks(log, ['repository']), signal: controller.signal,
				journal: async entry => void journal.push(entry),
				run: async job => {
					await job.begin('p1', 'to /tmp/x');
					if (cancel) controller.abort();
					throw new Error('qemu-img convert failed');
				},
			});
			await expect(running).rejects.toThrow('qemu-img convert failed');
			expect(journal.map(entry => entry.outcome)).toEqual(['started', cancel ? 'cancelled' : 'failed']);
			expect(journal[1]!.message).toBe('qemu-img convert failed');
			expect(log).toEqual(['take repository for test', 'give repository']);
		}
	});

	it('journals nothing for a job refused before it began, and a lock held elsewhere gives back the ones already taken', async () => {
		const log: string[] = [];
		const journal: unknown[] = [];
		await expect(runJob({action: 'start', command: 'test', locks: locks(log, ['vm']), journal: async entry => void journal.push(entry), run: async () => {
			throw new Error('vm1 has a broken chain');
		}})).rejects.toThrow('broken chain');
		expect(journal).toEqual([]);

		log.length = 0;
		let ran = false;
		await expect(runJob({action: 'backup', command: 'test', locks: locks(log, ['vm', 'repository'], 'repository'), journal: async entry => void journal.push(entry), run: async () => {
			ran = true;
		}})).rejects.toThrow('repository is held by another operation');
		expect(ran).toBe(false);
		expect(log).toEqual(['take vm for test', 'give vm']);
		expect(journal).toEqual([]);
	});

	describe('its record: what a kill would leave, recovered by the next job', () => {
		/** A store that keeps the record in memory and every version written of it. */
		function store() {
			const written: PendingJob[] = [];
			let current: PendingJob | null = null;
			const jobs: JobStore = {read: async () => current, write: async job => void written.push((current = job)), clear: async () => void (current = null)};
			return {jobs, written, current: () => current, leave: (job: PendingJob) => void (current = job)};
		}
		const left = (change: Partial<PendingJob> = {}): PendingJob => ({action: 'restore', command: 'killed', subject: 'p1', startedAt: '2026-11-30T10:00:00Z', pid: 4242, leaves: ['/r/vm1/.snapdeck/x'], halfDone: null, ...change});

		it('is written under the locks with the subject and what it will leave, and cleared when the job ends, done or failed', async () => {
			for (const fail of [false, true]) {
				const records = store();
				const running = runJob({
					action: 'copy', command: 'test', locks: [], journal: async () => undefined,
					record: {store: records.jobs, vm: 'vm1', recover: async () => []},
					run: async job => {
						await job.begin('p2');
						await job.leaves('/r/vm1/.snapdeck/offsite-copy');
						expect(records.current()).toMatchObject({action: 'copy', subject: 'p2', pid: process.pid, leaves: ['/r/vm1/.snapdeck/offsite-copy'], halfDone: null});
						if (fail) throw new Error('restic failed');
						return 1;
					},
				});
				if (fail) await expect(running).rejects.toThrow('restic failed');
				else await running;
				expect(records.current()).toBeNull();
			}
		});

		it('stays when the job failed after saying it is half done', async () => {
			const records = store();
			await expect(runJob({
				action: 'restore', command: 'test', locks: [], journal: async () => undefined,
				record: {store: records.jobs, vm: 'vm1', subject: 'p1', recover: async () => []},
				run: async job => {
					await job.halfDone('the disks may be half restored');
					throw new Error('cancelled part way');
				},
			})).rejects.toThrow('cancelled part way');
			expect(records.current()).toMatchObject({subject: 'p1', halfDone: 'the disks may be half restored'});
		});

		it('a record a kill left is recovered before the next job begins: its leftovers removed, journalled, cleared', async () => {
			const records = store();
			records.leave(left());
			const log: string[] = [];
			const journal: Array<Omit<JournalEntry, 'time' | 'vm'>> = [];
			await runJob({
				action: 'backup', command: 'test', locks: locks(log, ['repository']), journal: async entry => void journal.push(entry),
				record: {store: records.jobs, vm: 'vm1', recover: async job => (log.push(`recover ${job.pid}`), job.leaves.slice())},
				run: async () => void log.push('backup'),
			});
			expect(log).toEqual(['take repository for test', 'recover 4242', 'backup', 'give repository']);
			expect(journal[0]).toMatchObject({action: 'recover', snapshot: 'p1', outcome: 'done', message: expect.stringContaining("a restore of p1 of vm1 (started 2026-11-30T10:00:00Z by 'killed', pid 4242) did not end; removed what it left: /r/vm1/.snapdeck/x")});
			expect(records.current()).toBeNull();
		});

		it('a half-done record refuses every other job, with what to do, and lets the same job run again to finish it', async () => {
			const records = store();
			records.leave(left({halfDone: "vm1's disks may be half restored to point p1"}));
			let ran = 0;
			const job = (subject?: string) => runJob({
				action: 'restore', command: 'test', locks: [], journal: async () => undefined,
				record: {store: records.jobs, vm: 'vm1', ...(subject ? {subject} : {}), recover: async () => []},
				run: async () => void ran++,
			});
			await expect(job()).rejects.toMatchObject({code: 'unfinished', message: expect.stringContaining("vm1's disks may be half restored to point p1")});
			await expect(job('p2')).rejects.toMatchObject({code: 'unfinished'});
			expect([ran, records.current()?.halfDone]).toEqual([0, "vm1's disks may be half restored to point p1"]);
			await job('p1');
			expect([ran, records.current()]).toEqual([1, null]);
		});
	});
});
