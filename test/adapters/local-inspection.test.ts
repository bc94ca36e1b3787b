import {describe, expect, it} from 'vitest';
import {LocalHypervisor} from '../../source/adapters/local/local-hypervisor.js';
import {planTake} from '../../source/core/planner.js';
import {labWithVm} from '../helpers/lab.js';

describe('the local adapter keeps nothing between calls', () => {
	it("plans from one instance's inspection run on another instance: what it read (vm.json) travels with the inspection", async () => {
		const lab = await labWithVm('vm1');
		const inspection = await new LocalHypervisor(lab.root).inspect('vm1');
		// A fresh adapter that never inspected vm1 (it used to fail: "executor requested before inspect").
		const other = new LocalHypervisor(lab.root);
		const plan = planTake(inspection.state, {name: 's1', kind: 'external', now: new Date()});
		await other.preflight(inspection, plan);
		const executor = other.executor(inspection);
		for (const step of plan.steps) await executor.execute(step, {resuming: false, onProgress: () => undefined});
		expect((await lab.vmFile()).snapshots.map(snapshot => snapshot.name)).toEqual(['s1']);
		// An inspection another adapter made is refused, not guessed at.
		expect(() => other.executor({...inspection, native: undefined})).toThrow(
			'an inspection of vm1 that the local adapter did not make',
		);
	});
});
