import {describe, expect, it} from 'vitest';
import {runJob, type DebrisHandlers, type Lock} from '../../source/jobs/run-job.js';
import type {JobStore, JournalEntry, PendingJob, StoredJob} from '../../source/core/plan.js';

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
			kind: 'backup',
			command: 'snapdeck backup vm1',
			locks: locks(log, ['vm', 'repository']),
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
		expect(log).toEqual([
			'take vm for snapdeck backup vm1',
			'take repository for snapdeck backup vm1',
			'checks',
			'copies',
			'give repository',
			'give vm',
		]);
		expect(journal.map(entry => [entry.action, entry.snapshot, entry.outcome, entry.message])).toEqual([
			['backup', '20261130-1', 'started', 'full'],
			['backup', '20261130-1', 'done', 'wrote 42'],
		]);
		expect(journal[0]!.durationMs).toBeUndefined();
		expect(journal[1]!.durationMs).toBeGreaterThanOrEqual(0);
	});

	it('journals a failure after begin as failed, and one cancelled through its signal as cancelled; both give the locks back', async () => {
		for (const cancel of [false, true]) {
			const log: string[] = [];
			const journal: Array<Omit<JournalEntry, 'time' | 'vm'>> = [];
			const controller = new AbortController();
			const running = runJob({
				kind: 'restore',
				command: 'test',
				locks: locks(log, ['repository']),
				signal: controller.signal,
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
		await expect(
			runJob({
				kind: 'start',
				command: 'test',
				locks: locks(log, ['vm']),
				journal: async entry => void journal.push(entry),
				run: async () => {
					throw new Error('vm1 has a broken chain');
				},
			}),
		).rejects.toThrow('broken chain');
		expect(journal).toEqual([]);

		log.length = 0;
		let ran = false;
		await expect(
			runJob({
				kind: 'backup',
				command: 'test',
				locks: locks(log, ['vm', 'repository'], 'repository'),
				journal: async entry => void journal.push(entry),
				run: async () => {
					ran = true;
				},
			}),
		).rejects.toThrow('repository is held by another operation');
		expect(ran).toBe(false);
		expect(log).toEqual(['take vm for test', 'give vm']);
		expect(journal).toEqual([]);
	});

	describe('its record: what a kill would leave, registered before it is made, recovered by the next job', () => {
		/** A store that keeps records in memory (one per token) and every version written. */
		function store() {
			const written: PendingJob[] = [];
			const current = new Map<string, StoredJob>();
			const jobs: JobStore = {
				list: async () => [...current.values()],
				write: async job => {
					written.push(job);
					current.set(job.token, {record: job, left: false});
				},
				clear: async token => void current.delete(token),
			};
			return {
				jobs,
				written,
				records: () => [...current.values()].flatMap(entry => ('record' in entry ? [entry.record] : [])),
				leave: (job: PendingJob) => void current.set(job.token, {record: job, left: true}),
				damage: (file: string) => void current.set(file, {damaged: file, problem: 'not JSON'}),
			};
		}
		/** Work folders as a set of names; removal only where the record's token is in the name. */
		function folders(log: string[] = []) {
			const made = new Set<string>();
			const debris: DebrisHandlers = {
				realFolder: async parent => parent,
				makeFolder: async (parent, name) => (made.add(`${parent}/${name}`), `${parent}/${name}`),
				remove: async (job, item) => {
					const at =
						item.kind === 'folder'
							? `${item.parent}/${item.name}`
							: item.kind === 'throwaway'
								? item.name
								: item.marker;
					if (!at.includes(job.token)) return {left: `${at}: not this job's`};
					log.push(`remove ${at}`);
					return made.delete(at) ? {removed: at} : {};
				},
			};
			return {debris, made};
		}
		const self = {host: 'host1', started: 1};
		const left = (change: Partial<PendingJob> = {}): PendingJob => ({
			version: 2,
			token: 'aaaaaaaaaaaaaaaa',
			action: 'restore',
			command: 'killed',
			subject: 'p1',
			startedAt: '2026-11-30T10:00:00Z',
			pid: 4242,
			host: 'host1',
			started: 7,
			debris: [{kind: 'folder', parent: '/r/vm1/.snapdeck', name: '.snapdeck-work-aaaaaaaaaaaaaaaa-copy'}],
			halfDone: null,
			...change,
		});

		it("registers a work folder in the record before making it, with the job's token in its name, and removes it when the job ends, done or failed", async () => {
			for (const fail of [false, true]) {
				const records = store();
				const work = folders();
				const running = runJob({
					kind: 'copy',
					command: 'test',
					locks: [],
					journal: async () => undefined,
					record: {store: records.jobs, vm: 'vm1', debris: work.debris, self},
					run: async job => {
						await job.begin('p2');
						const folder = await job.workFolder('/r/vm1/.snapdeck', 'offsite-copy');
						expect(folder).toBe(`/r/vm1/.snapdeck/.snapdeck-work-${job.token}-offsite-copy`);
						// Recorded first: the record held the folder before it was made.
						expect(records.written.at(-1)).toMatchObject({
							action: 'copy',
							subject: 'p2',
							pid: process.pid,
							host: 'host1',
							started: 1,
							token: job.token,
							debris: [{kind: 'folder', parent: '/r/vm1/.snapdeck', name: `.snapdeck-work-${job.token}-offsite-copy`}],
							halfDone: null,
						});
						if (fail) throw new Error('restic failed');
						return 1;
					},
				});
				if (fail) await expect(running).rejects.toThrow('restic failed');
				else await running;
				expect(records.records()).toEqual([]);
				expect([...work.made]).toEqual([]);
			}
		});

		it('refuses a step its kind does not declare, so the fault suite knows every step', async () => {
			await expect(
				runJob({
					kind: 'copy',
					command: 'test',
					locks: [],
					journal: async () => undefined,
					run: async job => job.step('no-such-step'),
				}),
			).rejects.toThrow("step 'no-such-step' is not declared for copy jobs");
		});

		it('stays when the job failed after saying it is half done', async () => {
			const records = store();
			await expect(
				runJob({
					kind: 'restore-in-place',
					command: 'test',
					locks: [],
					journal: async () => undefined,
					record: {store: records.jobs, vm: 'vm1', subject: 'p1', debris: folders().debris, self},
					run: async job => {
						await job.halfDone('the disks may be half restored');
						throw new Error('cancelled part way');
					},
				}),
			).rejects.toThrow('cancelled part way');
			expect(records.records()).toMatchObject([{subject: 'p1', halfDone: 'the disks may be half restored'}]);
		});

		it('a record a kill left is recovered before the next job begins: what it registered removed, journalled, cleared', async () => {
			const records = store();
			records.leave(left());
			const log: string[] = [];
			const journal: Array<Omit<JournalEntry, 'time' | 'vm'>> = [];
			const work = folders(log);
			await runJob({
				kind: 'backup',
				command: 'test',
				locks: locks(log, ['repository']),
				journal: async entry => void journal.push(entry),
				record: {
					store: records.jobs,
					vm: 'vm1',
					debris: work.debris,
					self,
					recoverMore: async job => (log.push(`partial points of ${job.pid}`), []),
				},
				run: async () => void log.push('backup'),
			});
			expect(log).toEqual([
				'take repository for test',
				'remove /r/vm1/.snapdeck/.snapdeck-work-aaaaaaaaaaaaaaaa-copy',
				'partial points of 4242',
				'backup',
				'give repository',
			]);
			expect(journal[0]).toMatchObject({
				action: 'recover',
				snapshot: 'p1',
				outcome: 'done',
				message: expect.stringContaining(
					"a restore of p1 of vm1 (started 2026-11-30T10:00:00Z by 'killed', pid 4242) did not end",
				),
			});
			expect(records.records()).toEqual([]);
		});

		it("a record that is not snapdeck's refuses the job, and nothing in it is acted on", async () => {
			const records = store();
			records.damage('/r/vm1/.snapdeck/jobs/x.json');
			let ran = false;
			await expect(
				runJob({
					kind: 'backup',
					command: 'test',
					locks: [],
					journal: async () => undefined,
					record: {store: records.jobs, vm: 'vm1', debris: folders().debris, self},
					run: async () => void (ran = true),
				}),
			).rejects.toMatchObject({
				code: 'damaged',
				message: expect.stringContaining('/r/vm1/.snapdeck/jobs/x.json is not a job record snapdeck wrote'),
			});
			expect(ran).toBe(false);
		});

		it('a half-done record refuses every other job, with what to do, and lets the same job run again to finish it', async () => {
			const records = store();
			records.leave(left({halfDone: "vm1's disks may be half restored to point p1", debris: []}));
			let ran = 0;
			const job = (subject?: string) =>
				runJob({
					kind: 'restore-in-place',
					command: 'test',
					locks: [],
					journal: async () => undefined,
					record: {store: records.jobs, vm: 'vm1', ...(subject ? {subject} : {}), debris: folders().debris, self},
					run: async () => void ran++,
				});
			await expect(job()).rejects.toMatchObject({
				code: 'unfinished',
				message: expect.stringContaining("vm1's disks may be half restored to point p1"),
			});
			await expect(job('p2')).rejects.toMatchObject({code: 'unfinished'});
			expect([ran, records.records()[0]?.halfDone]).toEqual([0, "vm1's disks may be half restored to point p1"]);
			await job('p1');
			expect([ran, records.records()]).toEqual([1, []]);
		});
	});
});
