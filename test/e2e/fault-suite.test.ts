import {readFile} from 'node:fs/promises';
import {describe, expect, it} from 'vitest';
import {JOB_KINDS, type JobKind} from '../../source/core/job-kinds.js';
import {ELSEWHERE, killAtEveryStep, SCENARIOS, SUITE_PARTS} from '../helpers/fault-suite.js';

/** The fault suite, part one: the enumeration of job kinds, and the kinds that work on one host (test/helpers/fault-suite.ts). */
describe('the fault suite covers every kind of job', () => {
	it('every kind the runner declares has a scenario here, or its kills are in the file named, step by step', async () => {
		for (const kind of Object.keys(JOB_KINDS) as JobKind[]) {
			const elsewhere = ELSEWHERE[kind];
			if (elsewhere) {
				const text = await readFile(elsewhere, 'utf8');
				for (const step of JOB_KINDS[kind].steps)
					expect(text, `${elsewhere} kills ${kind} at ${step}`).toContain(`'${kind}:${step}'`);
				continue;
			}
			const variants = (SCENARIOS as Record<string, ReadonlyArray<{steps: readonly string[]}> | undefined>)[kind];
			expect(variants, `a scenario for ${kind} jobs in the fault suite`).toBeDefined();
			const covered = new Set(variants!.flatMap(variant => variant.steps));
			expect(
				[...JOB_KINDS[kind].steps].filter(step => !covered.has(step)),
				`steps of ${kind} jobs no variant kills at`,
			).toEqual([]);
			if (variants!.length > 0)
				expect([...SUITE_PARTS.local, ...SUITE_PARTS.remote] as string[], `a file of the suite runs ${kind}`).toContain(
					kind,
				);
		}
	});
});

killAtEveryStep(SUITE_PARTS.local);
