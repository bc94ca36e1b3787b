import {readFile} from 'node:fs/promises';
import {execa} from 'execa';
import {describe, expect, it} from 'vitest';
import {prometheusText} from '../../source/cli/prometheus.js';

const RULES = 'monitoring/snapdeck.rules.yml';

describe('the alert rules in monitoring/', () => {
	it('are valid, and pass their promtool unit tests', async () => {
		const check = await execa('promtool', ['check', 'rules', RULES], {reject: false});
		expect(check.exitCode, check.stdout + check.stderr).toBe(0);
		const tests = await execa('promtool', ['test', 'rules', 'snapdeck.rules.test.yml'], {
			cwd: 'monitoring',
			reject: false,
		});
		expect(tests.exitCode, tests.stdout + tests.stderr).toBe(0);
		expect(tests.stdout).toContain('SUCCESS');
	});

	it('use only metrics health writes', async () => {
		const used = new Set((await readFile(RULES, 'utf8')).match(/\bsnapdeck_[a-z_]+\b/g));
		const text = prometheusText(
			[
				{
					connection: 'local:/lab',
					vms: [
						{
							vm: 'vm1',
							policy: 'p',
							findings: [],
							lastBackup: '2026-12-01T00:00:00Z',
							chainDepth: 1,
							rpoSeconds: 3600,
							lastProvedRestore: '2026-12-01T01:00:00Z',
							lastProvedPoint: '2026-12-01T00:00:00Z',
							proofMaxAgeSeconds: 86_400,
						},
					],
				},
			],
			new Date(),
		);
		const written = new Set([...text.matchAll(/^# TYPE (\S+) gauge$/gm)].map(match => match[1]));
		expect([...used].filter(name => !written.has(name))).toEqual([]);
		expect(used.size).toBeGreaterThanOrEqual(7);
	});
});
