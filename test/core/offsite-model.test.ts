import {describe, expect, it} from 'vitest';
import type {BackupPoint} from '../../source/core/backup-manifest.js';
import {evaluateHealth, type VmFacts} from '../../source/core/health.js';
import {offsiteTags, pointTime, remotePoints, type ResticSnapshot} from '../../source/core/offsite-model.js';
import {Policy} from '../../source/core/policy.js';

const sha = 'a'.repeat(64);
const point = (id: string, parent: string | null): BackupPoint => ({
	id,
	kind: parent === null ? 'full' : 'incremental',
	createdAt: pointTime(id),
	parent,
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
		{
			disk: 'vda',
			file: `vda/${id}.qcow2`,
			backing: parent === null ? null : `vda/${parent}.qcow2`,
			virtualSize: 1 << 30,
			size: 1 << 20,
			sha256: sha,
		},
	],
});
const snapshot = (id: string, tags: string[]): ResticSnapshot => ({
	id: id.repeat(64).slice(0, 64),
	time: '2026-11-30T10:00:00Z',
	hostname: 'host',
	tags,
});

describe('off-site snapshots: tags written and read back', () => {
	it('round-trips a point, a VM name with a comma-free encoding, and leaves out what is not a point of this VM', () => {
		const full = point('20261130T010000Z', null);
		const incremental = point('20261130T020000Z', full.id);
		const tags = offsiteTags('web1', incremental);
		expect(tags).toEqual([
			'snapdeck',
			'vm=web1',
			`point=${incremental.id}`,
			'kind=incremental',
			`parent=${full.id}`,
			'disk=vda',
			'compression=zstd',
		]);
		const {points, ignored} = remotePoints(
			[
				snapshot('b', tags),
				snapshot('a', offsiteTags('web1', full)),
				snapshot('c', offsiteTags('web10', full)),
				snapshot('d', ['snapdeck', 'vm=web1', 'point=../../etc', 'kind=full', 'disk=vda']),
				snapshot('e', ['snapdeck', 'vm=web1', `point=${full.id}`, 'kind=full', 'disk=../x']),
				snapshot('f', ['snapdeck', 'vm=web1', `point=${full.id}`, 'kind=incremental', 'disk=vda']),
				snapshot('0', ['other-tool']),
			],
			'web1',
		);
		expect(points.map(remote => [remote.id, remote.kind, remote.parent, remote.snapshot[0]])).toEqual([
			[full.id, 'full', null, 'a'],
			[incremental.id, 'incremental', full.id, 'b'],
		]);
		expect(points[0]!.createdAt).toBe('2026-11-30T01:00:00.000Z');
		expect(ignored).toBe(5);
	});
});

describe('health of off-site copies', () => {
	const policy = Policy.parse({name: 'offsite', offsite: {target: 'usb', maxAge: '2d', checkEvery: '7d'}});
	const now = new Date('2026-12-10T00:00:00Z');
	const base: VmFacts = {
		vm: 'web1',
		unreadable: null,
		chainDepth: 1,
		snapshots: [],
		problems: [],
		findings: [],
		checks: [],
		pending: null,
		points: [point('20261209T000000Z', null)],
		bitmaps: null,
		repositoryFree: null,
		canQuiesce: false,
	};
	const rules = (facts: Partial<VmFacts>) =>
		evaluateHealth({...base, ...facts}, policy, now)
			.filter(finding => finding.rule.startsWith('offsite'))
			.map(finding => `${finding.rule}:${finding.severity}`);
	const record = (copied: string | null, check: {at: string; ok: boolean} | null) => [
		{
			name: 'usb',
			lastCopy: copied === null ? null : {at: copied, point: '20261209T000000Z'},
			lastCheck: check && {...check, message: check.ok ? 'ok' : 'pack 1234: damaged'},
		},
	];

	it('no copy, an old copy, a failed or missing check: each a finding; a fresh, checked copy none', () => {
		expect(rules({offsite: []})).toEqual(['offsite-missing:warning']);
		expect(rules({offsite: record('2026-12-09T12:00:00Z', {at: '2026-12-09T12:00:00Z', ok: true})})).toEqual([]);
		expect(rules({offsite: record('2026-12-07T00:00:00Z', {at: '2026-12-09T12:00:00Z', ok: true})})).toEqual([
			'offsite-age:warning',
		]);
		expect(rules({offsite: record('2026-12-05T00:00:00Z', {at: '2026-12-09T12:00:00Z', ok: true})})).toEqual([
			'offsite-age:critical',
		]);
		expect(rules({offsite: record('2026-12-09T12:00:00Z', {at: '2026-12-09T12:00:00Z', ok: false})})).toEqual([
			'offsite-check-failed:critical',
		]);
		expect(rules({offsite: record('2026-12-09T12:00:00Z', null)})).toEqual(['offsite-check-age:warning']);
		expect(rules({offsite: record('2026-12-09T12:00:00Z', {at: '2026-12-01T00:00:00Z', ok: true})})).toEqual([
			'offsite-check-age:warning',
		]);
		// No local backup yet: backup-missing says so; nothing to copy is not an off-site finding.
		expect(rules({offsite: [], points: []})).toEqual([]);
		// A policy without "offsite" asks nothing.
		expect(
			evaluateHealth({...base, offsite: []}, Policy.parse({name: 'plain'}), now).filter(finding =>
				finding.rule.startsWith('offsite'),
			),
		).toEqual([]);
	});
});
