import {readFile} from 'node:fs/promises';
import {describe, expect, it} from 'vitest';
import {configJsonSchema, validateConfig} from '../../source/config/config.js';
import {DEFAULT_POLICY, policyFor} from '../../source/core/policy.js';

describe('the configuration', () => {
	it('publishes its JSON schema, generated from the zod schema and kept in step with it', async () => {
		const published = JSON.parse(await readFile('schema/config.schema.json', 'utf8')) as unknown;
		expect(published).toEqual(JSON.parse(JSON.stringify(configJsonSchema())));
	});

	it("fills in a policy's defaults and names the key that is wrong", () => {
		const config = validateConfig(
			{policies: [{name: 'prod', vms: ['db*'], backups: {rpo: '26h', retention: {daily: 7}}}]},
			'c.json',
		);
		expect(config.policies![0]).toMatchObject({
			maxChainDepth: 8,
			snapshots: {maxAge: '30d', keep: 7, quiesce: false},
			backups: {rpo: '26h', verifyEvery: '30d'},
		});
		expect(() => validateConfig({policies: [{name: 'p', maxChainDepth: 0}]}, 'c.json')).toThrow(
			/^c\.json is not a valid snapdeck configuration: .* at policies\.0\.maxChainDepth$/,
		);
		expect(() => validateConfig({policies: [{name: 'p', snapshots: {schedule: '61 * * * *'}}]}, 'c.json')).toThrow(
			'c.json is not a valid snapdeck configuration: not a cron expression: CronPattern: Invalid value for minute: 61 at policies.0.snapshots.schedule',
		);
		expect(() => validateConfig({polices: []}, 'c.json')).toThrow(
			'c.json is not a valid snapdeck configuration: it has a field a configuration does not have',
		);
	});

	it('applies the first policy whose patterns and connections select the VM', () => {
		const {policies} = validateConfig(
			{
				policies: [
					{name: 'lab-db', vms: ['db?'], connections: ['lab']},
					{name: 'web', vms: ['web*', 'www']},
				],
			},
			'c.json',
		);
		expect(policyFor(policies!, 'db1', 'local:/x', ['lab']).name).toBe('lab-db');
		expect(policyFor(policies!, 'db1', 'qemu:///system').name).toBe('default');
		expect(policyFor(policies!, 'db12', 'local:/x', ['lab']).name).toBe('default');
		expect(policyFor(policies!, 'web-7', 'qemu:///system').name).toBe('web');
		expect(policyFor(policies!, 'a.b', 'x')).toBe(DEFAULT_POLICY);
	});
});

describe('where the configuration file is', () => {
	it('configFilePath names the file loadConfig reads, with or without SNAPDECK_CONFIG_DIR', async () => {
		const {configFilePath, loadConfig} = await import('../../source/config/config.js');
		const saved = process.env['SNAPDECK_CONFIG_DIR'];
		try {
			expect(configFilePath()).toBe(loadConfig().path);
			delete process.env['SNAPDECK_CONFIG_DIR'];
			const os = await import('node:os');
			expect(configFilePath()).toBe(
				`${process.env['XDG_CONFIG_HOME'] || `${os.homedir()}/.config`}/snapdeck/config.json`,
			);
		} finally {
			process.env['SNAPDECK_CONFIG_DIR'] = saved;
		}
	});
});
