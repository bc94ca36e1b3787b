import {describe, expect, it} from 'vitest';
import type {Hypervisor} from '../../source/adapters/hypervisor.js';
import type {Ports} from '../../source/service/ports.js';

/**
 * One contract for every hypervisor (restic's backend test suite is the model): the same cases,
 * run on the fast tier's in-memory hypervisor (memory.test.ts) and on the real local and libvirt
 * adapters (real.test.ts), so the fast one cannot say something QEMU and libvirt would not. Each
 * case goes through the service, as the UI and the command line do: plans, the runner, recover.
 */
export interface Fixture {
	readonly service: Ports;
	/** The adapter behind the service, for what a case asks of it directly (its lock, a VM's identity). */
	readonly hypervisor: Hypervisor;
	readonly vm: string;
	/** The guest writes `pattern` over 1 MiB at `mib` MiB of its disk (the VM is stopped). */
	write(pattern: number, mib: number): Promise<void>;
	/** Whether the guest reads `pattern` over 1 MiB at `mib` MiB now. */
	reads(pattern: number, mib: number): Promise<boolean>;
	/** Every file the VM's images live among (its folder's, recursively; the lock's state folder aside). */
	files(): Promise<string[]>;
}

const A = 0x1a;
const B = 0x2b;
const C = 0x3c;
const yes = {command: 'contract', confirm: async () => true};
const take = (f: Fixture, name: string, kind: 'external' | 'internal' = 'external', description?: string) =>
	f.service.perform(
		{
			kind: 'take',
			vm: f.vm,
			request: {name, kind, now: new Date(), ...(description === undefined ? {} : {description})},
		},
		yes,
	);

export function hypervisorContract(name: string, make: () => Promise<Fixture>, options: {internal: boolean}) {
	describe(`the hypervisor contract: ${name}`, () => {
		it('lists the VM: stopped, one disk, no snapshots, a chain one image deep; an unknown VM is no-such-vm', async () => {
			const f = await make();
			const row = (await f.service.list()).find(vm => vm.name === f.vm)!;
			expect({
				state: row.state,
				disks: row.disks.length,
				snapshots: row.snapshots,
				chainDepth: row.chainDepth,
				current: row.current,
				error: row.error,
			}).toEqual({state: 'stopped', disks: 1, snapshots: 0, chainDepth: 1, current: null, error: null});
			// The error names the VM asked for, and its hint how to see those there are.
			const unknown = await f.service.tree('no-such-vm-here').then(
				() => null,
				(error: unknown) => error as {code: string; message: string; hint?: string},
			);
			expect(unknown).toMatchObject({code: 'no-such-vm', message: expect.stringContaining("'no-such-vm-here'")});
			expect([`its VMs are: ${f.vm}`, `'snapdeck list --connect ${f.hypervisor.uri}' shows its domains`]).toContain(
				unknown!.hint,
			);
		});

		it('an external snapshot becomes current, deepens the chain by one, and holds what was written before it', async () => {
			const f = await make();
			await f.write(A, 1);
			expect((await take(f, 's1')).outcome).toBe('done');
			await f.write(B, 1);
			const tree = await f.service.tree(f.vm);
			expect([tree.current, tree.snapshots.map(snapshot => [snapshot.name, snapshot.kind])]).toEqual([
				's1',
				[['s1', 'external']],
			]);
			expect((await f.service.list()).find(vm => vm.name === f.vm)!.chainDepth).toBe(2);
			expect(await f.reads(B, 1)).toBe(true);
		});

		it('a revert gives back what the snapshot froze, discarding the state since (and the plan says so); the branch stays in the tree', async () => {
			const f = await make();
			await f.write(A, 1);
			await take(f, 's1');
			await f.write(B, 1);
			await f.write(C, 2);
			const {plan} = await f.service.perform({kind: 'revert', vm: f.vm, snapshot: 's1'}, yes);
			// It names the data written since the snapshot, as the guest wrote it: 2 MiB.
			expect(plan.discards).toEqual([expect.stringMatching(/the data of .* written since 's1' \(2\.0 MiB\)$/)]);
			expect([await f.reads(A, 1), await f.reads(C, 2)]).toEqual([true, false]);
			expect((await f.service.tree(f.vm)).current).toBe('s1');
		});

		it("a merge removes the snapshot and keeps every other snapshot's data and the present", async () => {
			const f = await make();
			await f.write(A, 1);
			await take(f, 's1');
			await f.write(B, 2);
			await take(f, 's2');
			await f.write(C, 3);
			await f.service.perform({kind: 'merge', vm: f.vm, snapshot: 's1'}, yes);
			expect((await f.service.tree(f.vm)).snapshots.map(snapshot => snapshot.name)).toEqual(['s2']);
			expect([await f.reads(A, 1), await f.reads(B, 2), await f.reads(C, 3)]).toEqual([true, true, true]);
			await f.service.perform({kind: 'revert', vm: f.vm, snapshot: 's2'}, yes);
			expect([await f.reads(A, 1), await f.reads(B, 2), await f.reads(C, 3)]).toEqual([true, true, false]);
		});

		it('a declined plan and a dry run change nothing', async () => {
			const f = await make();
			await f.write(A, 1);
			await take(f, 's1');
			await f.write(B, 1);
			const declined = await f.service.perform(
				{kind: 'revert', vm: f.vm, snapshot: 's1'},
				{command: 'contract', confirm: async () => false},
			);
			const dry = await f.service.perform({kind: 'merge', vm: f.vm, snapshot: 's1'}, {...yes, dryRun: true});
			expect([declined.outcome, dry.outcome]).toEqual(['declined', 'dry-run']);
			expect(await f.reads(B, 1)).toBe(true);
			expect((await f.service.tree(f.vm)).snapshots.map(snapshot => snapshot.name)).toEqual(['s1']);
		});

		it('one operation at a time: a second lock on the VM is refused, naming who holds it', async () => {
			const f = await make();
			const release = await f.hypervisor.lock(f.vm, 'first holder');
			try {
				await expect(take(f, 's1')).rejects.toMatchObject({code: 'busy'});
			} finally {
				await release();
			}
			expect((await take(f, 's1')).outcome).toBe('done');
		});

		it('a snapshot name that could escape the folder or reach a shell is refused (bad-name) before anything is made', async () => {
			const f = await make();
			const before = await f.files();
			for (const name of ['../escape', 'a/b', '$(touch pwned)', '`id`', 'with space', '-rf', '']) {
				await expect(take(f, name), name).rejects.toMatchObject({
					code: 'bad-name',
					message: expect.stringContaining('invalid snapshot name'),
				});
			}
			expect(await f.files()).toEqual(before);
			expect((await f.service.tree(f.vm)).snapshots).toEqual([]);
		});

		it('a description is kept as given (quotes, a semicolon and $() are text, never a command), and the snapshot is dated when it was taken', async () => {
			const f = await make();
			const description = `it's "quoted"; $(touch pwned) \`id\` <b>&amp;</b>`;
			expect((await take(f, 'described', 'external', description)).outcome).toBe('done');
			const snapshots = (await f.service.tree(f.vm)).snapshots;
			expect(snapshots.map(snapshot => [snapshot.name, snapshot.description])).toEqual([['described', description]]);
			// Health's snapshot-age rule reads this date (test/cli/health-rules.test.ts).
			expect(Math.abs(Date.parse(snapshots[0]!.createdAt) - Date.now())).toBeLessThan(60_000);
		});

		it("a change is journalled under the VM's connection: the service's journal shows it started and done", async () => {
			const f = await make();
			await take(f, 'logged');
			const records = (await f.service.journal(f.vm)).filter(record => record.snapshot === 'logged');
			expect(records.map(record => [record.action, record.outcome])).toEqual([
				['take', 'started'],
				['take', 'done'],
			]);
			expect(records.every(record => record.connection === f.hypervisor.uri)).toBe(true);
		});

		it('the VM has one identity, the same at every ask', async () => {
			const f = await make();
			const [first, second] = [await f.hypervisor.identity(f.vm), await f.hypervisor.identity(f.vm)];
			expect(first).toEqual(second);
			expect(first.uuid).toMatch(/^[0-9a-f-]{36}$/);
		});

		it.runIf(options.internal)('an internal snapshot is taken inside the image and reverted to in place', async () => {
			const f = await make();
			await f.write(A, 1);
			await take(f, 'i1', 'internal');
			await f.write(B, 1);
			expect((await f.service.tree(f.vm)).snapshots.map(snapshot => [snapshot.name, snapshot.kind])).toEqual([
				['i1', 'internal'],
			]);
			await f.service.perform({kind: 'revert', vm: f.vm, snapshot: 'i1'}, yes);
			expect(await f.reads(A, 1)).toBe(true);
		});

		it.runIf(options.internal)(
			'a merge that would orphan internal snapshots is refused, naming them and the way out, and changes nothing',
			async () => {
				const f = await make();
				await f.write(A, 1);
				await take(f, 'e1');
				await f.write(B, 1);
				await take(f, 'i2', 'internal');
				await expect(f.service.perform({kind: 'merge', vm: f.vm, snapshot: 'e1'}, yes)).rejects.toMatchObject({
					message: expect.stringContaining('holds internal snapshots i2'),
					hint: expect.stringContaining('delete those internal snapshots first'),
				});
				expect((await f.service.tree(f.vm)).snapshots.map(snapshot => snapshot.name)).toEqual(['e1', 'i2']);
				expect(await f.reads(B, 1)).toBe(true);
			},
		);
	});
}
