import {describe, expect, it} from 'vitest';
import {jsonOf, snapdeck} from '../helpers/cli.js';
import {labWithVm} from '../helpers/lab.js';

const A = 0xa1;
const B = 0xb2;
const C = 0xc3;

/** s1 holds A; s2 holds A and B; the present state also holds C. */
async function threeStateLab() {
	const lab = await labWithVm();
	await lab.write(A, 1);
	await lab.take('s1');
	await lab.write(B, 2);
	await lab.take('s2');
	await lab.write(C, 3);
	return lab;
}

type Lab = Awaited<ReturnType<typeof threeStateLab>>;

const operations: Array<{name: string; args: string[]; steps: number; check: (lab: Lab) => Promise<void>}> = [
	{
		name: 'merge of a middle snapshot',
		args: ['merge', 'vm1', 's1'],
		steps: 3,
		check: async lab => {
			expect(await lab.reads(C, 3)).toBe(true);
			await lab.revert('s2');
			expect([await lab.reads(A, 1), await lab.reads(B, 2)]).toEqual([true, true]);
		},
	},
	{
		name: 'merge of the current snapshot',
		args: ['merge', 'vm1', 's2'],
		steps: 3,
		check: async lab => {
			expect([await lab.reads(A, 1), await lab.reads(B, 2), await lab.reads(C, 3)]).toEqual([true, true, true]);
			await lab.revert('s1');
			expect([await lab.reads(A, 1), await lab.reads(B, 2)]).toEqual([true, false]);
		},
	},
	{
		name: 'revert',
		args: ['revert', 'vm1', 's1'],
		steps: 3,
		check: async lab => {
			expect([await lab.reads(A, 1), await lab.reads(B, 2), await lab.reads(C, 3)]).toEqual([true, false, false]);
			await lab.revert('s2');
			expect([await lab.reads(A, 1), await lab.reads(B, 2)]).toEqual([true, true]);
		},
	},
];

describe('a crash in the middle of an operation', () => {
	for (const operation of operations) {
		for (let step = 1; step <= operation.steps; step++) {
			for (const when of step < operation.steps ? ['during', 'after'] : ['during']) {
				it(`${operation.name}: killed ${when} step ${step} leaves readable images and a resumable record`, async () => {
					const lab = await threeStateLab();
					const connect = ['--connect', `local:${lab.root}`];
					const crashed = await snapdeck([...operation.args, '--yes', ...connect], {
						SNAPDECK_CRASH_AT: `${when}:${step}`,
					});
					expect(crashed.signal).toBe('SIGKILL');
					expect(await lab.imagesHealthy()).toBe(true);

					// The VM says what is unfinished and refuses other changes until it is finished.
					const tree = jsonOf(await snapdeck(['tree', 'vm1', '--json', ...connect]));
					expect(tree['pending']).toMatchObject({action: operation.args[0], snapshot: operation.args[2]});
					const blocked = await snapdeck(['snapshot', 'vm1', 'other', '--yes', ...connect]);
					expect(blocked.exitCode).toBe(1);
					expect(blocked.stderr).toContain("run 'snapdeck recover vm1'");

					const recovered = await snapdeck(['recover', 'vm1', ...connect]);
					expect(recovered.exitCode).toBe(0);
					expect(recovered.stdout).toContain('recovered');
					expect(jsonOf(await snapdeck(['tree', 'vm1', '--json', ...connect]))['pending']).toBeNull();
					await operation.check(lab);
					expect(await lab.imagesHealthy()).toBe(true);
				});
			}
		}
	}
});
