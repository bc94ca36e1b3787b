import {access, readdir, readFile, writeFile} from 'node:fs/promises';
import path from 'node:path';
import {describe, expect, it} from 'vitest';
import {jsonOf, snapdeck} from '../helpers/cli.js';
import {recordingServer, type Received} from '../helpers/http-server.js';
import {labWithVm, tempDir} from '../helpers/lab.js';
import {freePort} from '../helpers/net.js';

/** A lab VM, a repository, a journal (the notifications' state goes beside it) and a config with `notify`. */
async function notifyLab(config: object) {
	const lab = await labWithVm('vm1', ['vda'], 64);
	const state = await tempDir();
	const configDir = await tempDir();
	await writeFile(path.join(configDir, 'config.json'), JSON.stringify(config));
	const env = {
		SNAPDECK_CONNECT: `local:${lab.root}`,
		SNAPDECK_REPO: path.join(state, 'repo'),
		SNAPDECK_CONFIG_DIR: configDir,
		SNAPDECK_JOURNAL: path.join(state, 'journal.jsonl'),
		SNAPDECK_CHECK_CACHE: 'off',
	};
	return {lab, state, env, run: (...args: string[]) => snapdeck(args, env)};
}

const json = (request: Received) => JSON.parse(request.body) as Record<string, unknown>;
const SECRETS = ['s3cretpw', 'tok3n123', 'abcdef123'];

describe('notifications', () => {
	it("the user and password in an off-site target's URL (restic's REST server) or a connection's are shown masked: config show, errors", async () => {
		const port = await freePort();
		const password = path.join(await tempDir(), 'password');
		await writeFile(password, 'pw\n', {mode: 0o600});
		const {run} = await notifyLab({
			offsite: {vault: {repository: `rest:http://alice:r3stpw99@127.0.0.1:${port}/`, passwordFile: password}},
			connections: {far: 'qemu+ssh://root:sshpw99@far.example.org/system'},
		});
		const shown = await run('config', 'show', '--json');
		expect(shown.exitCode, shown.stderr).toBe(0);
		const effective = jsonOf(shown)['effective'] as {
			offsite: Record<string, {repository: string}>;
			connections: Record<string, string>;
		};
		expect(effective.offsite['vault']!.repository).toBe(`rest:http://***@127.0.0.1:${port}/`);
		expect(effective.connections['far']).toBe('qemu+ssh://***@far.example.org/system');
		const listed = await run('backups', 'vm1', '--from', 'vault');
		expect(listed.exitCode).not.toBe(0);
		for (const result of [shown, listed]) expect(result.stdout + result.stderr).not.toMatch(/r3stpw99|sshpw99/);
	});

	it('notify test reaches a webhook (with its credentials), an ntfy topic and a command run without a shell; no secret is printed', async () => {
		const server = await recordingServer();
		const out = await tempDir();
		// A file name that a shell would turn into a command.
		const sink = path.join(out, 'mail $(touch pwned)');
		const {run} = await notifyLab({
			notify: [
				{webhook: `http://hook:s3cretpw@127.0.0.1:${server.port}/hook?token=tok3n123&team=ops`},
				{ntfy: `http://127.0.0.1:${server.port}/snapdeck-alerts`},
				{command: ['/usr/bin/tee', sink], to: ['ops@example.org']},
			],
		});
		const result = await run('notify', 'test');
		expect(result.exitCode, result.stderr).toBe(0);
		expect(result.stdout.split('\n')).toEqual([
			`webhook http://***@127.0.0.1:${server.port}/hook?token=***&team=***: delivered`,
			`ntfy http://127.0.0.1:${server.port}/snapdeck-alerts: delivered`,
			'command /usr/bin/tee: delivered',
		]);
		for (const secret of SECRETS) expect(result.stdout + result.stderr).not.toContain(secret);
		const shown = await run('config', 'show', '--json');
		expect((jsonOf(shown)['effective'] as Record<string, unknown>)['notify']).toEqual([
			expect.objectContaining({webhook: `http://***@127.0.0.1:${server.port}/hook?token=***&team=***`}),
			expect.anything(),
			expect.anything(),
		]);
		for (const secret of SECRETS) expect(shown.stdout).not.toContain(secret);

		const [hook, ntfy] = [
			server.received.find(request => request.url.startsWith('/hook')),
			server.received.find(request => request.url === '/snapdeck-alerts'),
		];
		expect(hook).toMatchObject({
			method: 'POST',
			url: '/hook?token=tok3n123&team=ops',
			headers: {
				'content-type': 'application/json',
				authorization: `Basic ${Buffer.from('hook:s3cretpw').toString('base64')}`,
			},
		});
		expect(json(hook!)).toMatchObject({
			event: 'test',
			vm: null,
			title: expect.stringMatching(/^snapdeck on .+: a test message$/),
		});
		expect(ntfy).toMatchObject({
			method: 'POST',
			headers: {title: expect.stringMatching(/a test message$/), priority: '3'},
		});
		expect(ntfy!.body).toContain("A test message from 'snapdeck notify test'");
		const mail = await readFile(sink, 'utf8');
		expect(mail).toMatch(/^To: ops@example\.org\nSubject: snapdeck on .+: a test message\n/);
		expect(mail).toContain('\n\nA test message');
		await expect(access(path.join(process.cwd(), 'pwned'))).rejects.toThrow();
		expect(await readdir(out)).toEqual(['mail $(touch pwned)']);
	});

	it('a VM that turns critical is told once, not again on the next identical run, and its recovery once; filters choose who hears what', async () => {
		const [all, dbOnly, recoveries] = [await recordingServer(), await recordingServer(), await recordingServer()];
		const down = await freePort(); // nothing listens there: deliveries fail, and health is not held up by them
		const {run, state} = await notifyLab({
			policies: [{name: 'prod', backups: {rpo: '26h', verifyEvery: '30d'}}],
			notify: [
				{webhook: `http://127.0.0.1:${all.port}/all`},
				{webhook: `http://127.0.0.1:${dbOnly.port}/db`, vms: ['db*']},
				{webhook: `http://127.0.0.1:${recoveries.port}/recovered`, events: ['health-recovered']},
				{webhook: `http://127.0.0.1:${down}/x?key=abcdef123`, timeout: 2},
			],
		});
		await run('backup', 'vm1');
		await run('verify', 'vm1');
		const inDays = (days: number) => new Date(Date.now() + days * 86_400_000).toISOString();
		expect((await run('health', '--now', inDays(1))).exitCode).toBe(0);
		expect(all.received).toEqual([]);

		const critical = await run('health', '--json', '--now', inDays(3));
		expect(critical.exitCode).toBe(2); // health's own verdict, whatever the notifications did
		expect(jsonOf(critical)).toMatchObject({status: 'critical'});
		expect(all.received).toHaveLength(1);
		expect(json(all.received[0]!)).toMatchObject({
			event: 'health-worse',
			vm: 'vm1',
			status: 'critical',
			previous: 'ok',
			urgency: 'critical',
			findings: [expect.objectContaining({rule: 'backup-age', severity: 'critical'})],
		});
		expect(json(all.received[0]!)['title']).toMatch(/^vm1 is critical \(was ok\) on /);
		// The endpoint that is down: tried three times, said on stderr with its secret masked.
		expect(critical.stderr).toMatch(
			new RegExp(
				`could not notify webhook http://127\\.0\\.0\\.1:${down}/x\\?key=\\*\\*\\* of "vm1 is critical \\(was ok\\) on [^"]+" \\(3 attempts\\): .*ECONNREFUSED`,
			),
		);

		const again = await run('health', '--now', inDays(3));
		expect(again.exitCode).toBe(2);
		expect(all.received).toHaveLength(1);

		expect((await run('health', '--now', inDays(1))).exitCode).toBe(0);
		expect(all.received.map(request => json(request)['event'])).toEqual(['health-worse', 'health-recovered']);
		expect(json(all.received[1]!)).toMatchObject({vm: 'vm1', status: 'ok', previous: 'critical', urgency: 'info'});
		expect(dbOnly.received).toEqual([]);
		expect(recoveries.received.map(request => json(request)['event'])).toEqual(['health-recovered']);

		// What each notifier was told is kept beside the journal, without the URLs' secrets.
		const [folder] = (await readdir(state)).filter(name => name.endsWith('.notified'));
		const files = await readdir(path.join(state, folder!));
		expect(files).toHaveLength(1);
		const kept = await readFile(path.join(state, folder!, files[0]!), 'utf8');
		for (const secret of SECRETS) expect(kept).not.toContain(secret);
	});

	it('a failed scheduled job is told (after retries past a failing endpoint); a silent endpoint is given up on within its timeout; a run that cannot start is told too', async () => {
		const flaky = await recordingServer([500, 503, 200]);
		const silent = await recordingServer([0]);
		const {lab, env} = await notifyLab({
			policies: [{name: 'nightly', backups: {schedule: '0 2 * * *'}}],
			notify: [
				{webhook: `http://127.0.0.1:${flaky.port}/hook`, events: ['job-failed']},
				{ntfy: `http://127.0.0.1:${silent.port}/topic?auth=tok3n123`, timeout: 1},
			],
		});
		// The repository cannot be made: a file stands where its folder's parent should be.
		const blocker = path.join(await tempDir(), 'file');
		await writeFile(blocker, '');
		const started = Date.now();
		const result = await snapdeck(['run', '--now', '2026-12-01T03:00:00Z'], {
			...env,
			SNAPDECK_REPO: path.join(blocker, 'repo'),
		});
		expect(result.exitCode).toBe(1); // the job's failure, not the notifications'
		expect(result.stdout).toMatch(/vm1: backups failed: /);
		expect(flaky.received).toHaveLength(3);
		const told = json(flaky.received[2]!);
		expect(told).toMatchObject({
			event: 'job-failed',
			vm: 'vm1',
			task: 'backups',
			urgency: 'critical',
			connection: `local:${lab.root}`,
		});
		expect(told['text']).toMatch(/The scheduled backups task of vm1 on local:.* failed at 2026-12-01T03:00:00\.000Z:/);
		// The silent ntfy server: three attempts of 1 s each, then given up, said without its secret.
		expect(silent.received).toHaveLength(3);
		expect(result.stderr).toMatch(
			/could not notify ntfy http:\/\/127\.0\.0\.1:\d+\/topic\?auth=\*\*\* of "snapdeck: backups of vm1 failed on [^"]+" \(3 attempts\): no answer within 1 s/,
		);
		expect(result.stderr).not.toContain('tok3n123');
		expect(Date.now() - started).toBeLessThan(20_000);

		const gone = path.join(await tempDir(), 'gone');
		const failedRun = await snapdeck(['run', '--connect', `local:${gone}`], env);
		expect(failedRun.exitCode).toBe(2);
		expect(flaky.received.map(request => json(request)['title'])).toContainEqual(
			expect.stringMatching(/^snapdeck: run failed on /),
		);
		expect(json(flaky.received.at(-1)!)).toMatchObject({
			event: 'job-failed',
			vm: null,
			task: 'run',
			connection: `local:${gone}`,
			message: expect.stringContaining('there is no lab at'),
		});
	});

	it('notify test without a notify list says what to do; a config with a bad entry names it', async () => {
		const none = await notifyLab({});
		const result = await none.run('notify', 'test');
		expect([result.exitCode, result.stderr]).toEqual([2, expect.stringContaining('the config has no "notify" list')]);
		const bad = await notifyLab({notify: [{webhook: 'ftp://example.org/x'}]});
		expect((await bad.run('notify', 'test')).stderr).toMatch(
			/config\.json is not a valid snapdeck configuration: must be an http:\/\/ or https:\/\/ URL at notify\.0\.webhook/,
		);
	});
});
