import {describe, expect, it} from 'vitest';
import {parsePendingOperation} from '../../source/core/pending-record.js';

const step = (fields: Record<string, unknown>) => ({
	op: 'delete-image',
	disk: 'vda',
	file: 'vda.s1.qcow2',
	summary: 'delete vda.s1.qcow2',
	...fields,
});
const record = (steps: unknown[], more: Record<string, unknown> = {}) => ({
	plan: {
		action: 'merge',
		vm: 'vm1',
		snapshot: 's1',
		summary: 'merge',
		steps,
		bytes: 0,
		space: 0,
		discards: [],
		warnings: [],
	},
	done: 0,
	started: null,
	command: 'snapdeck merge vm1 s1',
	startedAt: '2026-12-04T00:00:00Z',
	...more,
});

describe('an unfinished plan read back from pending.json (a file anyone who can write the folder could write)', () => {
	it('is taken only in the shape snapdeck writes: known step kinds, file names as text, step counts that fit', () => {
		expect(parsePendingOperation(record([step({})]))).toHaveProperty('pending');
		expect(parsePendingOperation(record([step({op: 'run-shell'})]))).toEqual({
			problem: expect.stringMatching(/^plan\.steps\.0\.op: /),
		});
		expect(parsePendingOperation(record([step({file: {toString: '/etc/passwd'}})]))).toEqual({
			problem: 'plan.steps.0.file: not a file name',
		});
		expect(parsePendingOperation(record([step({})], {done: 5}))).toEqual({
			problem: '(the record): its step counts do not fit its plan',
		});
		expect(parsePendingOperation(record([step({})], {started: -1}))).toHaveProperty('problem');
		expect(parsePendingOperation({plan: 'merge'})).toHaveProperty('problem');
		expect(parsePendingOperation(null)).toHaveProperty('problem');
	});
});
