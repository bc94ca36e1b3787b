import {spawn, type ChildProcess} from 'node:child_process';
import net from 'node:net';
import {readdir, readFile, writeFile} from 'node:fs/promises';
import path from 'node:path';
import {execa} from 'execa';
import {afterEach, describe, expect, it} from 'vitest';
import {snapdeck} from '../helpers/cli.js';
import {labWithVm, MiB, tempDir} from '../helpers/lab.js';
import {freePort, waitForPort} from '../helpers/net.js';

/**
 * Every network call snapdeck makes to an off-site target ends within a bound: a peer that
 * accepts the connection and then says nothing (the silent peer), or one that stops answering in
 * the middle of an upload. Only loopback addresses are used.
 */

const BIN = path.resolve('bin/snapdeck');
const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
	for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** A TCP listener on 127.0.0.1 that accepts every connection and never writes a byte. */
async function silentPeer(): Promise<number> {
	const sockets: net.Socket[] = [];
	const server = net.createServer(socket => {
		socket.on('error', () => undefined);
		sockets.push(socket);
	});
	const port = await freePort();
	await new Promise<void>(resolve => server.listen(port, '127.0.0.1', resolve));
	cleanups.push(
		() =>
			new Promise<void>(resolve => {
				for (const socket of sockets) socket.destroy();
				server.close(() => resolve());
			}),
	);
	return port;
}

/**
 * A TCP proxy on 127.0.0.1 in front of `upstream` that goes silent (forwards nothing more, closes
 * nothing) once clients have sent it `afterBytes`: a server that stops answering mid-upload.
 */
async function stallingProxy(upstream: number, afterBytes: number): Promise<number> {
	let sent = 0;
	const sockets: net.Socket[] = [];
	const server = net.createServer(client => {
		const remote = net.connect(upstream, '127.0.0.1');
		sockets.push(client, remote);
		for (const socket of [client, remote]) socket.on('error', () => undefined);
		client.on('data', chunk => {
			sent += chunk.length;
			if (sent < afterBytes) remote.write(chunk);
		});
		remote.on('data', chunk => {
			if (sent < afterBytes) client.write(chunk);
		});
	});
	const port = await freePort();
	await new Promise<void>(resolve => server.listen(port, '127.0.0.1', resolve));
	cleanups.push(
		() =>
			new Promise<void>(resolve => {
				for (const socket of sockets) socket.destroy();
				server.close(() => resolve());
			}),
	);
	return port;
}

/** The processes whose command line or environment (restic's RESTIC_REPOSITORY) names `marker` (a port of this test's). */
async function processesWith(marker: string): Promise<string[]> {
	const found: string[] = [];
	for (const pid of await readdir('/proc')) {
		if (!/^\d+$/.test(pid) || Number(pid) === process.pid) continue;
		const [cmdline, environ] = await Promise.all(
			['cmdline', 'environ'].map(file => readFile(`/proc/${pid}/${file}`, 'utf8').catch(() => '')),
		);
		const command = cmdline!.replaceAll('\0', ' ');
		if (command.includes('vitest')) continue;
		if (
			command.includes(marker) ||
			environ!.split('\0').some(variable => variable.startsWith('RESTIC_REPOSITORY=') && variable.includes(marker))
		)
			found.push(`${pid} ${command}`);
	}
	return found;
}

/** Ends what a failed run of this test left (by pid), so nothing outlives it. */
function reap(marker: string) {
	cleanups.push(async () => {
		for (const line of await processesWith(marker)) {
			const pid = Number(line.split(' ')[0]);
			if (pid > 0 && pid !== process.pid) process.kill(pid, 'SIGKILL');
		}
	});
}

async function lab() {
	const vm = await labWithVm('vm1', ['vda'], 64);
	const work = await tempDir();
	const password = path.join(work, 'password');
	await writeFile(password, 'pw\n', {mode: 0o600});
	const env = {
		SNAPDECK_CONNECT: `local:${vm.root}`,
		SNAPDECK_REPO: path.join(work, 'repo'),
		SNAPDECK_CONFIG_DIR: path.join(work, 'config'),
		SNAPDECK_JOURNAL: path.join(work, 'journal.jsonl'),
		RESTIC_PASSWORD_FILE: password,
		HOME: work,
	};
	return {vm, work, env};
}

/** Runs snapdeck, killing it at `limitMs` (a hang fails the test instead of stalling the suite). */
async function timed(args: string[], env: Record<string, string>, limitMs: number) {
	const started = Date.now();
	const result = await execa(BIN, [...args], {
		reject: false,
		stdin: 'ignore',
		env: {NO_COLOR: '1', ...env},
		timeout: limitMs,
	});
	return {...result, seconds: (Date.now() - started) / 1000};
}

describe('off-site calls are bounded', () => {
	it('an sftp target whose host accepts the connection and never answers: unreachable within seconds, and no restic or ssh is left', async () => {
		const {env} = await lab();
		const port = await silentPeer();
		reap(`127.0.0.1:${port}`);
		reap(`-p ${port}`);
		const result = await timed(['backups', 'vm1', '--from', `sftp://root@127.0.0.1:${port}//srv/restic`], env, 40_000);
		expect(result.timedOut, 'snapdeck still waited after 40 s').toBe(false);
		expect(result.exitCode, result.stderr).toBe(1);
		expect(result.stderr).toContain('cannot be reached');
		expect(result.seconds).toBeLessThan(30);
		expect(await processesWith(`127.0.0.1:${port}`)).toEqual([]);
		expect(await processesWith(`-p ${port}`)).toEqual([]);
	}, 60_000);

	it('SIGTERM while restic waits on a silent sftp peer: snapdeck ends at once, and restic and its ssh end with it', async () => {
		const {env} = await lab();
		const port = await silentPeer();
		reap(`127.0.0.1:${port}`);
		reap(`-p ${port}`);
		const run = execa(BIN, ['backups', 'vm1', '--from', `sftp://root@127.0.0.1:${port}//srv/restic`], {
			reject: false,
			stdin: 'ignore',
			env: {NO_COLOR: '1', ...env},
			timeout: 40_000,
		});
		for (let waited = 0; waited < 10_000 && (await processesWith(`-p ${port}`)).length === 0; waited += 100)
			await new Promise(resolve => setTimeout(resolve, 100));
		expect(await processesWith(`-p ${port}`), 'ssh was started').not.toEqual([]);
		const sent = Date.now();
		run.kill('SIGTERM');
		const result = await run;
		expect(result.timedOut).toBe(false);
		expect(Date.now() - sent).toBeLessThan(8000);
		expect(result.exitCode, result.stderr).not.toBe(0);
		for (let waited = 0; waited < 3000 && (await processesWith(`-p ${port}`)).length > 0; waited += 100)
			await new Promise(resolve => setTimeout(resolve, 100));
		expect(await processesWith(`127.0.0.1:${port}`)).toEqual([]);
		expect(await processesWith(`-p ${port}`)).toEqual([]);
	}, 60_000);

	it('a REST target that accepts the connection and never answers: unreachable once nothing moved for the stall limit', async () => {
		const {env} = await lab();
		const port = await silentPeer();
		reap(`127.0.0.1:${port}`);
		const result = await timed(
			['backups', 'vm1', '--from', `rest:http://127.0.0.1:${port}/`],
			{...env, SNAPDECK_RESTIC_STALL_MS: '3000'},
			40_000,
		);
		expect(result.timedOut, 'snapdeck still waited after 40 s').toBe(false);
		expect(result.exitCode, result.stderr).toBe(1);
		expect(result.stderr).toMatch(/cannot be reached: .*nothing moved for 3 s/);
		expect(await processesWith(`127.0.0.1:${port}`)).toEqual([]);
	}, 60_000);

	it('a REST target that stops answering in the middle of an upload: the copy ends as unreachable, no restic is left, and nothing is recorded as copied', async () => {
		const {vm, work, env} = await lab();
		const data = path.join(work, 'random');
		await execa('dd', ['if=/dev/urandom', `of=${data}`, `bs=${MiB}`, 'count=24', 'status=none']);
		await execa('qemu-io', ['-f', 'qcow2', '-c', `write -s ${data} 0 ${24 * MiB}`, await vm.activeFile('vda')]);
		expect((await snapdeck(['backup', 'vm1', '--no-compress'], env)).exitCode).toBe(0);
		const upstream = await freePort();
		const server: ChildProcess = spawn(
			'rclone',
			['serve', 'restic', '--addr', `127.0.0.1:${upstream}`, path.join(work, 'rest')],
			{stdio: 'ignore'},
		);
		cleanups.push(() => void server.kill());
		await waitForPort(upstream);
		expect(
			(
				await execa('restic', ['-r', `rest:http://127.0.0.1:${upstream}/`, 'init'], {
					env: {RESTIC_PASSWORD_FILE: env.RESTIC_PASSWORD_FILE},
					reject: false,
				})
			).exitCode,
		).toBe(0);
		const port = await stallingProxy(upstream, 4 * MiB);
		reap(`127.0.0.1:${port}`);
		const result = await timed(
			['copy', 'vm1', '--target', `rest:http://127.0.0.1:${port}/`],
			{...env, SNAPDECK_RESTIC_STALL_MS: '3000'},
			60_000,
		);
		expect(result.timedOut, 'snapdeck still waited after 60 s').toBe(false);
		expect(result.exitCode, result.stderr).toBe(1);
		expect(result.stderr).toMatch(/cannot be reached: .*nothing moved for 3 s/);
		expect(await processesWith(`127.0.0.1:${port}`)).toEqual([]);
		const listed = await execa('restic', ['-r', `rest:http://127.0.0.1:${upstream}/`, 'snapshots', '--json'], {
			env: {RESTIC_PASSWORD_FILE: env.RESTIC_PASSWORD_FILE},
		});
		expect(JSON.parse(listed.stdout)).toEqual([]);
	}, 90_000);
});
