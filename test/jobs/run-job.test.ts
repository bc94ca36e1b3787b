import {describe, expect, it} from 'vitest';
import {runJob, type Lock} from '../../source/jobs/run-job.js';
import type {JournalEntry} from '../../source/core/plan.js';

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
});
