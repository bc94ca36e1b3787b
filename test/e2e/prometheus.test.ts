import {chmod, chown, readdir, readFile, stat, writeFile} from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import {execa} from 'execa';
import {describe, expect, it} from 'vitest';
import {snapdeck} from '../helpers/cli.js';
import {labWithVm, tempDir} from '../helpers/lab.js';
import {freePort} from '../helpers/net.js';
import {startNodeExporter} from '../helpers/node-exporter.js';

/** A lab VM, a repository, a config (a policy with an RPO), and a textfile folder node_exporter's user can search. */
async function monitoredLab() {
	const lab = await labWithVm('vm1', ['vda'], 64);
	const configDir = await tempDir();
	await writeFile(
		path.join(configDir, 'config.json'),
		JSON.stringify({policies: [{name: 'prod', backups: {rpo: '26h'}, boot: {every: '7d'}}]}),
	);
	const textfiles = await tempDir();
	await chmod(textfiles, 0o755);
	const env = {
		SNAPDECK_CONNECT: `local:${lab.root}`,
		SNAPDECK_REPO: path.join(await tempDir(), 'repo'),
		SNAPDECK_CONFIG_DIR: configDir,
		SNAPDECK_CHECK_CACHE: 'off',
	};
	return {lab, textfiles, file: path.join(textfiles, 'snapdeck.prom'), run: (...args: string[]) => snapdeck(args, env)};
}

const sample = (text: string, name: string) =>
	text.split('\n').filter(line => line.startsWith(`${name}{`) || line.startsWith(`${name} `));

describe.runIf(os.userInfo().uid === 0)(
	"the Prometheus textfile, read by Debian's node_exporter as its own user",
	() => {
		it('serves what health writes (no scrape error); a run that cannot inspect its connection rewrites it with snapdeck_up 0', async () => {
			const {lab, textfiles, file, run} = await monitoredLab();
			const exporter = await startNodeExporter(textfiles);
			try {
				expect((await run('health', '--prometheus', file)).exitCode).toBe(2); // no backup, and the policy has an RPO
				expect((await stat(file)).mode & 0o777).toBe(0o644);
				expect(
					(await execa('promtool', ['check', 'metrics'], {input: await readFile(file), reject: false})).exitCode,
				).toBe(0);
				const served = await exporter.scrape();
				expect(sample(served, 'node_textfile_scrape_error')).toEqual(['node_textfile_scrape_error 0']);
				expect(sample(served, 'snapdeck_up')).toEqual([`snapdeck_up{connection="local:${lab.root}"} 1`]);
				expect(sample(served, 'snapdeck_vm_health')).toEqual([
					`snapdeck_vm_health{connection="local:${lab.root}",vm="vm1"} 2`,
				]);
				expect(sample(served, 'snapdeck_backup_rpo_seconds')).toEqual([
					`snapdeck_backup_rpo_seconds{connection="local:${lab.root}",vm="vm1"} 93600`,
				]);
				expect(sample(served, 'snapdeck_restore_proof_max_age_seconds')).toEqual([
					`snapdeck_restore_proof_max_age_seconds{connection="local:${lab.root}",vm="vm1"} 604800`,
				]);
				expect(sample(served, 'snapdeck_last_run_timestamp_seconds')).toHaveLength(1);

				// A host that cannot be reached (nothing listens on that port): health cannot tell (exit 3), and the file says so.
				const unreachable = `qemu+ssh://root@127.0.0.1:${await freePort()}/system`;
				const down = await run('health', '--prometheus', file, '--connect', unreachable);
				expect(down.exitCode).toBe(3);
				const text = await readFile(file, 'utf8');
				expect(sample(text, 'snapdeck_up')).toEqual([`snapdeck_up{connection="${unreachable}"} 0`]);
				expect(sample(text, 'snapdeck_vm_health')).toEqual([]);
				expect(sample(await exporter.scrape(), 'snapdeck_up')).toEqual([`snapdeck_up{connection="${unreachable}"} 0`]);
				// So does a lab that is gone, under the label it has when it is there.
				expect((await run('health', '--prometheus', file, '--connect', `local:${lab.root}/gone`)).exitCode).toBe(3);
				expect(sample(await readFile(file, 'utf8'), 'snapdeck_up')).toEqual([
					`snapdeck_up{connection="local:${lab.root}/gone"} 0`,
				]);
				expect(sample(await exporter.scrape(), 'node_textfile_scrape_error')).toEqual(['node_textfile_scrape_error 0']);
				// Written through a temp file and a rename: nothing else is left in the folder.
				expect(await readdir(textfiles)).toEqual(['snapdeck.prom']);
			} finally {
				await exporter.stop();
			}
		});

		it("--prometheus-mode 0640: narrower, read through the folder's group (setgid); wider than 0644 is refused", async () => {
			const {textfiles, file, run} = await monitoredLab();
			const {stdout: gid} = await execa('id', ['-g', 'prometheus']);
			await chown(textfiles, 0, Number(gid));
			await chmod(textfiles, 0o2750);
			const exporter = await startNodeExporter(textfiles);
			try {
				expect((await run('health', '--prometheus', file, '--prometheus-mode', '0640')).exitCode).toBe(2);
				const written = await stat(file);
				expect([written.mode & 0o777, written.gid]).toEqual([0o640, Number(gid)]);
				const served = await exporter.scrape();
				expect(sample(served, 'node_textfile_scrape_error')).toEqual(['node_textfile_scrape_error 0']);
				expect(sample(served, 'snapdeck_up')).toHaveLength(1);
			} finally {
				await exporter.stop();
			}
			// A wrong command line is bad input (exit 2), as for every command: not a check that could not run.
			const wide = await run('health', '--prometheus', file, '--prometheus-mode', '0666');
			expect(wide.exitCode).toBe(2);
			expect(wide.stderr).toContain('--prometheus-mode takes an octal mode no wider than 0644');
			expect((await run('health', '--prometheus-mode', '0640')).stderr).toContain(
				'--prometheus-mode goes with --prometheus FILE',
			);
		});
	},
);

describe("the Prometheus textfile's contents", () => {
	it('has the health, findings, chain depth, backup and restore-proof figures of each VM', async () => {
		const {lab, file, run} = await monitoredLab();
		await run('backup', 'vm1');
		expect((await run('verify', 'vm1', '--restore-test')).exitCode).toBe(0);
		expect((await run('health', '--prometheus', file)).exitCode).toBe(1); // never boot-tested
		const text = await readFile(file, 'utf8');
		const labels = `connection="local:${lab.root}",vm="vm1"`;
		expect(text).toMatch(/^# HELP snapdeck_up /);
		expect(sample(text, 'snapdeck_vm_health')).toEqual([`snapdeck_vm_health{${labels}} 1`]);
		expect(sample(text, 'snapdeck_findings')).toEqual([
			`snapdeck_findings{${labels},rule="boot-missing",severity="warning"} 1`,
		]);
		expect(sample(text, 'snapdeck_chain_depth')).toEqual([`snapdeck_chain_depth{${labels}} 1`]);
		const [backup] = sample(text, 'snapdeck_last_backup_timestamp_seconds');
		const [proof] = sample(text, 'snapdeck_last_verified_restore_timestamp_seconds');
		const [proved] = sample(text, 'snapdeck_last_proved_point_timestamp_seconds');
		const value = (line: string | undefined) => Number(line?.split(' ').at(-1));
		expect(Math.abs(value(backup) - Date.now() / 1000)).toBeLessThan(120);
		expect(value(proved)).toBe(value(backup));
		expect(value(proof)).toBeGreaterThanOrEqual(value(backup));
		// The name before snapdeck_last_run_timestamp_seconds is kept, with the same value.
		expect(sample(text, 'snapdeck_health_checked_timestamp_seconds')[0]!.split(' ')[1]).toBe(
			sample(text, 'snapdeck_last_run_timestamp_seconds')[0]!.split(' ')[1],
		);
	});
});
