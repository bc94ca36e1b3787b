import {describe, it} from 'vitest';
import type {BackupPoint} from '../../source/core/backup-manifest.js';
import {evaluateHealth, worstOf, type VmFacts} from '../../source/core/health.js';
import {Policy} from '../../source/core/policy.js';
import {healthJson, healthText} from '../../source/cli/render.js';
import type {VmHealth} from '../../source/service/ports.js';
import {backupPoint, snapshot} from '../core/fixtures.js';
import {expectGolden, goldenJson} from './golden.js';

/**
 * Health findings pinned in test/golden/health/: the typed findings of the one checker
 * (core/health.ts) for a few VMs, as `snapdeck health` prints them and as its --json holds them.
 * See golden.ts.
 */
const NOW = new Date('2026-12-10T00:00:00Z');
const URI = 'qemu:///system';

const point = (id: string, createdAt: string, verified: BackupPoint['verified'] = null): BackupPoint => ({
	...backupPoint(id, null, 1 << 20),
	createdAt,
	verified,
	compression: 'zstd',
});

const quiet: VmFacts = {
	vm: 'web1',
	unreadable: null,
	chainDepth: 1,
	snapshots: [],
	problems: [],
	findings: [],
	checks: [],
	pending: null,
	points: [
		point('20261209T220000Z', '2026-12-09T22:00:00.000Z', {
			at: '2026-12-09T23:00:00.000Z',
			ok: true,
			restoreTest: false,
			message: 'ok',
		}),
	],
	bitmaps: {vda: ['b.20261209T220000Z']},
	repositoryFree: 500 * 2 ** 30,
	canQuiesce: true,
};

const troubled: VmFacts = {
	...quiet,
	vm: 'db1',
	chainDepth: 6,
	snapshots: [snapshot('before-migration', null, 'db1.qcow2')],
	checks: [{file: '/var/lib/libvirt/images/db1.qcow2', errors: 0, corruptions: 0, leaks: 12}],
	findings: ["overlay /var/lib/libvirt/images/db1.tmp.qcow2 is in no snapshot's chain"],
	points: [
		point('20261125T030000Z', '2026-11-25T03:00:00.000Z', {
			at: '2026-11-25T04:00:00.000Z',
			ok: false,
			restoreTest: false,
			message: 'vda/20261125T030000Z.qcow2: checksum mismatch',
		}),
	],
	bitmaps: {vda: []},
	repositoryFree: 1 << 19,
	canQuiesce: false,
	staleBitmaps: [{name: 'b.20261101T030000Z', why: 'no point builds on it'}],
	offsite: [
		{
			name: 'usb',
			lastCopy: {at: '2026-12-01T00:00:00.000Z', point: '20261125T030000Z'},
			lastCheck: {at: '2026-11-01T00:00:00.000Z', ok: false, message: 'pack 3f2a… is missing'},
		},
	],
};

const broken: VmFacts = {
	...quiet,
	vm: 'mail',
	problems: ['backing file /var/lib/libvirt/images/mail-base.qcow2 is missing'],
	pending: "revert of 'mail' to 'pre-update' (step 2 of 3)",
	points: [],
	bitmaps: null,
};

const unreadable: VmFacts = {...quiet, vm: 'ghost', unreadable: 'domain XML names no disk', points: [], bitmaps: null};

const STRICT = Policy.parse({
	name: 'strict',
	maxChainDepth: 4,
	snapshots: {maxAge: '7d', quiesce: true},
	backups: {rpo: '1d', verifyEvery: '7d'},
	offsite: {target: 'usb', maxAge: '2d', checkEvery: '7d'},
});
const DEFAULT = Policy.parse({name: 'default'});

/** A VM's health as the service hands it to the CLI: its policy's name and the checker's findings. */
const healthOf = (facts: VmFacts, policy: Policy): VmHealth => ({
	vm: facts.vm,
	policy: policy.name,
	findings: evaluateHealth(facts, policy, NOW),
	lastBackup: facts.points.at(-1)?.createdAt ?? null,
	chainDepth: facts.chainDepth,
	rpoSeconds: null,
	lastProvedRestore: null,
	lastProvedPoint: null,
	proofMaxAgeSeconds: null,
});

const cases: ReadonlyArray<readonly [string, readonly VmHealth[]]> = [
	['all-ok', [healthOf(quiet, DEFAULT)]],
	['strict-policy-troubles', [healthOf(troubled, STRICT)]],
	['broken-and-unreadable', [healthOf(broken, DEFAULT), healthOf(unreadable, DEFAULT)]],
	['mixed', [healthOf(quiet, STRICT), healthOf(troubled, DEFAULT), healthOf(broken, STRICT)]],
];

describe('golden files: health findings, as the CLI prints them and as JSON', () => {
	it.each(cases)('%s', async (name, vms) => {
		const connection = [{connection: URI, vms}];
		await expectGolden(
			`health/${name}.txt`,
			`${healthText(connection)}\n(status ${worstOf(vms.flatMap(vm => vm.findings))})`,
		);
		await expectGolden(`health/${name}.json`, goldenJson(healthJson(connection, NOW)));
	});
});
