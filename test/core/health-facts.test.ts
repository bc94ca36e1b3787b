import {describe, expect, it} from 'vitest';
import type {BackupPoint} from '../../source/core/backup-manifest.js';
import {evaluateHealth, type VmFacts} from '../../source/core/health.js';
import {pointTime} from '../../source/core/offsite-model.js';
import {Policy} from '../../source/core/policy.js';
import {findingDetails} from '../../source/ui/details.js';

const point = (id: string): BackupPoint => ({
	id,
	kind: 'full',
	createdAt: pointTime(id),
	parent: null,
	state: 'complete',
	bitmap: null,
	reason: '',
	definition: {},
	verified: {at: pointTime(id), ok: true, restoreTest: false, message: 'ok'},
	boot: null,
	compression: 'zstd',
	archive: null,
	identity: null,
	bootFiles: [],
	audit: null,
	files: [
		{disk: 'vda', file: `vda/${id}.qcow2`, backing: null, virtualSize: 1 << 30, size: 1 << 20, sha256: 'a'.repeat(64)},
	],
});

describe('findings carry what their rule measured, as data', () => {
	const now = new Date('2026-12-10T00:00:00Z');
	const policy = Policy.parse({
		name: 'strict',
		maxChainDepth: 4,
		snapshots: {maxAge: '7d'},
		backups: {rpo: '1d'},
		offsite: {target: 'usb', maxAge: '2d', checkEvery: '7d'},
	});
	const facts: VmFacts = {
		vm: 'web1',
		unreadable: null,
		chainDepth: 6,
		problems: [],
		findings: [],
		checks: [{file: 'vda.qcow2', errors: 0, corruptions: 0, leaks: 12}],
		pending: null,
		snapshots: [
			{
				name: 'old one',
				kind: 'external',
				createdAt: '2026-11-30T00:00:00Z',
				description: '',
				parent: null,
				disks: [],
			} as unknown as VmFacts['snapshots'][number],
		],
		points: [point('20261207T000000Z')],
		bitmaps: null,
		repositoryFree: 1 << 19,
		canQuiesce: false,
		offsite: [
			{
				name: 'usb',
				lastCopy: {at: '2026-12-06T00:00:00Z', point: '20261207T000000Z'},
				lastCheck: {at: '2026-12-09T00:00:00Z', ok: true, message: 'ok'},
			},
		],
	};
	const findings = evaluateHealth(facts, policy, now);
	const of = (rule: string) => findings.find(finding => finding.rule === rule)?.facts;

	it('durations in seconds, sizes in bytes, and the thing concerned, by stable names per rule', () => {
		expect(of('chain-depth')).toEqual({depth: 6, allowed: 4, policy: 'strict'});
		expect(of('snapshot-age')).toEqual({
			snapshot: 'old one',
			ageSeconds: 10 * 86_400,
			maxAgeSeconds: 7 * 86_400,
			policy: 'strict',
		});
		expect(of('backup-age')).toEqual({
			point: '20261207T000000Z',
			ageSeconds: 3 * 86_400,
			rpoSeconds: 86_400,
			policy: 'strict',
		});
		expect(of('image-leaks')).toEqual({file: 'vda.qcow2', leaks: 12});
		expect(of('repository-space')).toEqual({freeBytes: 1 << 19, needBytes: 1 << 20});
		expect(of('offsite-age')).toEqual({
			target: 'usb',
			point: '20261207T000000Z',
			ageSeconds: 4 * 86_400,
			maxAgeSeconds: 2 * 86_400,
			policy: 'strict',
		});
	});

	it("the UI's details of a finding list its facts, one a line", () => {
		const finding = findings.find(candidate => candidate.rule === 'chain-depth')!;
		expect(findingDetails(finding, 'm')).toEqual(expect.arrayContaining(['depth: 6', 'allowed: 4', 'policy: strict']));
	});
});
