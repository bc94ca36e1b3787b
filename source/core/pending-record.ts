import {z} from 'zod';
import type {PendingOperation} from './plan.js';

/** Every step kind a plan may hold (core/plan.ts's StepOperation). */
const STEP_OPS = [
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
] as const;
const FILE_FIELDS = ['file', 'backing', 'top', 'base', 'source', 'target'] as const;

/**
 * An unfinished plan as read back from `pending.json`: a state file anyone who can write the
 * folder could have written. Its shape is checked before anything in it is acted on: known step
 * kinds, the files each names as text, a count of steps done that the plan holds. (Where those
 * files may be is checked by the executor, which knows the folder: see the plans' confinement.)
 */
const PendingSchema = z
	.looseObject({
		plan: z.looseObject({
			action: z.string(),
			vm: z.string(),
			steps: z
				.array(
					z.looseObject({op: z.enum(STEP_OPS), summary: z.string()}).superRefine((step, context) => {
						for (const field of FILE_FIELDS) {
							const value = (step as Record<string, unknown>)[field];
							if (value !== undefined && value !== null && typeof value !== 'string')
								context.addIssue({code: 'custom', path: [field], message: 'not a file name'});
						}
					}),
				)
				.max(10_000),
		}),
		done: z.number().int().nonnegative(),
		started: z.number().int().nonnegative().nullable(),
		command: z.string(),
		startedAt: z.string(),
	})
	.refine(
		pending =>
			pending.done <= pending.plan.steps.length &&
			(pending.started === null || pending.started < pending.plan.steps.length),
		{message: 'its step counts do not fit its plan'},
	);

/** The record parsed and checked; a problem is said in words (the field and what is wrong). */
export function parsePendingOperation(json: unknown): {pending: PendingOperation} | {problem: string} {
	const parsed = PendingSchema.safeParse(json);
	if (parsed.success) return {pending: parsed.data as unknown as PendingOperation};
	const issue = parsed.error.issues[0]!;
	return {problem: `${issue.path.join('.') || '(the record)'}: ${issue.message}`};
}
