import {existsSync} from 'node:fs';
import {mkdir, readFile, writeFile} from 'node:fs/promises';
import path from 'node:path';
import {describe, expect, it, vi} from 'vitest';
import {jsonOf} from '../helpers/cli.js';
import {tempDir} from '../helpers/lab.js';
import {memoryCliLab, runCli} from '../helpers/memory-cli.js';

vi.mock('../../source/adapters/connect.js', async original =>
	(await import('../helpers/memory-cli.js')).memoryConnect(await original()),
);

/** A VM on the in-memory hypervisor, an empty repository and a config folder, with `health` run in-process. */
async function healthLab(config: object = {}) {
	const lab = memoryCliLab();
	const configDir = await tempDir();
	await writeFile(path.join(configDir, 'config.json'), JSON.stringify(config));
	const env = {
		SNAPDECK_CONNECT: lab.hypervisor.uri,
		SNAPDECK_REPO: path.join(configDir, 'repo'),
		SNAPDECK_CONFIG_DIR: configDir,
		SNAPDECK_CHECK_CACHE: path.join(configDir, 'image-checks.json'),
	};
	const run = (...args: string[]) => runCli(args, env);
	const health = async (...args: string[]) => {
		const result = await run('health', '--json', ...args);
		const json = jsonOf(result) as {
			status: string;
			findings: Array<{rule: string; severity: string; message: string; fix?: string}>;
		};
		return {
			exitCode: result.exitCode,
			status: json.status,
			findings: json.findings,
			rules: json.findings.map(finding => `${finding.rule}:${finding.severity}`).sort(),
		};
	};
	return {lab, run, health, repo: env.SNAPDECK_REPO};
}

const inDays = (days: number) => new Date(Date.now() + days * 86_400_000).toISOString();

describe('snapdeck health: its rules, exit codes and words', () => {
	it('no backup is a warning (exit 1); with an RPO in the policy it is critical (exit 2)', async () => {
		expect(await (await healthLab()).health()).toMatchObject({exitCode: 1, rules: ['backup-missing:warning']});
		const strict = await healthLab({policies: [{name: 'prod', vms: ['vm*'], backups: {rpo: '26h'}}]});
		const result = await strict.health();
		expect(result).toMatchObject({exitCode: 2, rules: ['backup-missing:critical']});
		expect(result.findings[0]!.message).toContain("policy 'prod' wants one at most 26h old");
	});

	it('a manifest it cannot read is critical (exit 2), never "no backup": text, --json and --prometheus name the file and what to do, as backups VM does', async () => {
		const {run, health, repo} = await healthLab();
		const manifest = path.join(repo, 'vm1', 'manifest.json');
		await mkdir(path.dirname(manifest), {recursive: true});
		const damages = [
			['{"version": 1, "vm": "vm1", "poi', 'is not valid JSON'],
			[JSON.stringify({version: 1, vm: 'vm1', identity: null, points: 'none'}), 'is not a snapdeck manifest'],
		];
		for (const [damage, words] of damages) {
			await writeFile(manifest, damage!);
			const listing = await run('backups', 'vm1');
			expect(listing.exitCode).toBe(1);
			expect(listing.stderr).toContain(`${manifest} ${words}`);
			const json = await health();
			expect(json).toMatchObject({exitCode: 2, status: 'critical', rules: ['backups-unreadable:critical']});
			const [finding] = json.findings;
			expect(finding!.message).toContain(`${manifest} ${words}`);
			expect(finding!.message).toContain(`Put back a good copy of ${manifest}, then 'snapdeck verify vm1'`);
			expect(finding!.message).toContain("'snapdeck restore vm1 --from TARGET'");
			expect(finding).toMatchObject({facts: {file: manifest}});
			const text = await run('health');
			expect(text.exitCode).toBe(2);
			expect(text.stdout).toMatch(/^CRIT +vm1 +backups-unreadable: /m);
			expect(text.stdout).not.toContain('has no backup');
			const textfile = path.join(path.dirname(repo), 'health.prom');
			expect((await run('health', '--prometheus', textfile)).exitCode).toBe(2);
			const metrics = await readFile(textfile, 'utf8');
			expect(metrics).toMatch(/^snapdeck_vm_health\{[^}]*vm="vm1"\} 2$/m);
			expect(metrics).toMatch(/^snapdeck_findings\{[^}]*vm="vm1",rule="backups-unreadable",severity="critical"\} 1$/m);
			expect(metrics).not.toContain('backup-missing');
		}
	});

	it('--prometheus - writes the textfile to standard output, in place of the text, with the same exit code; never a file named "-"', async () => {
		const {run} = await healthLab();
		const cwd = process.cwd();
		process.chdir(await tempDir());
		try {
			for (const args of [['--prometheus', '-'], ['--prometheus=-']]) {
				const piped = await run('health', ...args);
				expect(piped.exitCode, args.join(' ')).toBe(1);
				expect(piped.stdout).toMatch(/^# HELP snapdeck_up /);
				expect(piped.stdout).toMatch(
					/^snapdeck_findings\{[^}]*vm="vm1",rule="backup-missing",severity="warning"\} 1$/m,
				);
				expect(piped.stdout).not.toContain('WARN');
				expect(existsSync('-')).toBe(false);
			}
			for (const args of [['--json'], ['--prometheus-mode', '0640']]) {
				const both = await run('health', '--prometheus', '-', ...args);
				expect(both.exitCode).toBe(2);
				expect(both.stderr).toContain('--prometheus - writes the textfile to standard output');
			}
		} finally {
			process.chdir(cwd);
		}
	});

	it('a snapshot ages past the policy: "a snapshot is not a backup"', async () => {
		const {lab, health} = await healthLab({policies: [{name: 'p', snapshots: {maxAge: '7d'}}]});
		await lab.take('old');
		expect((await health('--now', inDays(1))).rules).toEqual(['backup-missing:warning']);
		const aged = await health('--now', inDays(8));
		expect(aged.rules).toEqual(['backup-missing:warning', 'snapshot-age:warning']);
		const finding = aged.findings.find(candidate => candidate.rule === 'snapshot-age')!;
		expect(finding).toMatchObject({fix: 'merge'});
		expect(finding.message).toMatch(/snapshot 'old' is 8d old .* a snapshot is not a backup/);
	});

	it('a chain deeper than the policy is a warning, twice as deep critical', async () => {
		const {lab, health} = await healthLab({policies: [{name: 'p', maxChainDepth: 2}]});
		const depth = async () => (await health()).rules.filter(rule => rule.startsWith('chain-depth'));
		await lab.take('s1');
		expect(await depth()).toEqual([]);
		await lab.take('s2');
		expect(await depth()).toEqual(['chain-depth:warning']);
		await lab.take('s3');
		await lab.take('s4');
		expect(await depth()).toEqual(['chain-depth:critical']);
	});

	it('--json says the exit code the process exits with, on every path: ok, warning, critical, bad usage, a wrong VM, could not tell', async () => {
		const {lab, run} = await healthLab({policies: [{name: 'p', maxChainDepth: 1}]});
		const broken = await healthLab({policies: [{name: 'p', backups: {schedule: 'every night'}}]});
		// A connection that cannot be inspected: a lab folder that is a file.
		const notALab = path.join(await tempDir(), 'lab');
		await writeFile(notALab, '');
		const said = async (result: Awaited<ReturnType<typeof run>>) => {
			const json = jsonOf(result) as {status?: 'ok' | 'warning' | 'critical'; exitCode?: number};
			return [json.exitCode ?? {ok: 0, warning: 1, critical: 2}[json.status!], result.exitCode];
		};
		// One at a time: each run borrows the process's streams.
		const cases: Array<[string[], number, typeof run]> = [
			[[], 1, run],
			[['--bogus'], 2, run],
			[['--prometheus-mode', '0640'], 2, run],
			[['nosuch'], 2, run],
			[['--now', 'yesterday'], 2, run],
			[['-vm'], 2, run],
			[['--connect', 'nowhere:at-all'], 2, run],
			[['--connect', `local:${notALab}`], 3, run],
			[[], 3, broken.run],
		];
		for (const [args, code, runner] of cases)
			expect(await said(await runner('health', '--json', ...args)), args.join(' ')).toEqual([code, code]);
		await lab.take('s1');
		await lab.take('s2');
		await lab.take('s3');
		await lab.take('s4');
		expect(await said(await run('health', '--json'))).toEqual([2, 2]);
	});

	it('a wrong command line is bad input (exit 2) naming what exists; a config it cannot read is UNKNOWN (exit 3)', async () => {
		const {run} = await healthLab();
		const unknownVm = await run('health', 'nosuch');
		expect(unknownVm.exitCode).toBe(2);
		expect(unknownVm.stderr).toContain("there is no VM 'nosuch'");
		expect(unknownVm.stderr).toContain('its VMs are: vm1');
		expect((await run('health', '--now', 'yesterday')).exitCode).toBe(2);
		const broken = await healthLab({policies: [{name: 'p', backups: {schedule: 'every night'}}]});
		const result = await broken.run('health');
		expect(result.exitCode).toBe(3);
		expect(result.stderr).toMatch(
			/config\.json is not a valid snapdeck configuration: not a cron expression: .* at policies\.0\.backups\.schedule/,
		);
		expect(result.stderr).toContain('notifications were not sent: the configuration could not be read\n');
		expect(result.stderr.match(/not a cron expression/g)).toHaveLength(1);
	});
});
