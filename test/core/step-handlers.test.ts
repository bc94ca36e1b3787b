import {describe, expect, it} from 'vitest';
import {handleStep, refuseSteps, type Step, type StepHandlers, type StepOp} from '../../source/core/plan.js';

const ALL: readonly StepOp[] = [
	'create-overlay',
	'internal-create',
	'internal-apply',
	'internal-delete',
	'copy-internal',
	'commit',
	'rebase',
	'delete-image',
	'stop-vm',
	'start-vm',
	'write-definition',
	'write-manifest',
];

describe('executors as tables of step handlers (core/plan.ts)', () => {
	it('a table that misses a step kind does not compile; each step goes to the handler of its kind', async () => {
		const withoutCommit = ALL.filter((op): op is Exclude<StepOp, 'commit'> => op !== 'commit');
		// @ts-expect-error every kind needs a handler: 'commit' is missing (checked by tsc in the build)
		const missing: StepHandlers = refuseSteps(withoutCommit, op => new Error(op));
		expect(Object.keys(missing)).not.toContain('commit');

		const seen: string[] = [];
		const handlers: StepHandlers = {
			...refuseSteps(ALL, op => new Error(`no ${op} here`)),
			commit: async step => void seen.push(`commit ${step.top} into ${step.base}`),
		};
		const context = {resuming: false, onProgress: () => undefined};
		const commit = {op: 'commit', disk: 'vda', top: 'b.qcow2', base: 'a.qcow2'} as Step;
		await handleStep(handlers, commit, context);
		expect(seen).toEqual(['commit b.qcow2 into a.qcow2']);
		await expect(handleStep(handlers, {op: 'stop-vm'} as Step, context)).rejects.toThrow('no stop-vm here');
	});
});
