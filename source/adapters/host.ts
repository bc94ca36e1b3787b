import {randomBytes} from 'node:crypto';
import {constants as fsConstants, createReadStream} from 'node:fs';
import {pipeline} from 'node:stream/promises';
import {copyFile, mkdtemp, readdir, readFile, rm, stat, statfs} from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import {z} from 'zod';
import {errorMessage, SnapdeckError} from '../core/errors.js';
import {
	CommandFailed,
	lastWords,
	loadExeca,
	localRunner,
	metadataTimeoutMs,
	timedOut,
	type CommandRunner,
} from './exec.js';
import {fileExists} from './file-checks.js';
import {headerChain, walkChain} from './qemu/qcow2-header.js';
import {parseJson} from './qemu/qemu-img.js';

export interface DiskChain {
	readonly chain: string[];
	readonly virtualSize: number;
	readonly problem: string | null;
}

/** A copy's cancel and its progress, in bytes copied so far. */
type CopyOptions = {signal?: AbortSignal; onBytes?: (bytes: number) => void};

/** The machine whose files an adapter works on: this one, or a hypervisor host over SSH. */
export interface Host {
	readonly name: string;
	/** Runs programs there (qemu-img), with an argument array. */
	readonly runner: CommandRunner;
	listDir(dir: string): Promise<string[]>;
	exists(file: string): Promise<boolean>;
	remove(file: string): Promise<void>;
	freeBytes(dir: string): Promise<number>;
	/** A disk's backing chain, top first, with what is wrong with it. */
	chain(file: string): Promise<DiskChain>;
	/** A new empty directory inside `dir`, for files made there on the way to this machine. */
	makeTempDir(dir: string): Promise<string>;
	/** Removes a directory and what is in it. */
	removeDir(dir: string): Promise<void>;
	/** Copies a file from there to `local` on this machine, reporting the bytes copied so far. */
	fetch(file: string, local: string, options?: CopyOptions): Promise<void>;
	/** Copies `local` from this machine to a new file there, reporting the bytes sent so far; refuses to replace a file that exists. */
	push(local: string, file: string, options?: CopyOptions): Promise<void>;
	/** Who the host is: its machine-id (or `name:HOSTNAME` where it has none) and its name, for VM identities. */
	identity(): Promise<HostIdentity>;
}

export interface HostIdentity {
	readonly host: string;
	readonly hostName: string;
}

/** A host's identity from what `cat /etc/machine-id` and `hostname` said there. */
function hostIdentityFrom(machineId: string, hostName: string): HostIdentity {
	const id = machineId.trim().toLowerCase();
	const name =
		hostName
			.trim()
			.split('\n')[0]!
			.replace(/[^A-Za-z0-9._-]/g, '_')
			.slice(0, 253) || 'unknown';
	return {host: /^[0-9a-f]{32}$/.test(id) ? id : `name:${name}`, hostName: name};
}

let localIdentity: Promise<HostIdentity> | undefined;
const readLocalIdentity = () =>
	(localIdentity ??= (async () => {
		const id = await readFile('/etc/machine-id', 'utf8')
			.catch(() => readFile('/var/lib/dbus/machine-id', 'utf8'))
			.catch(() => '');
		return hostIdentityFrom(id, os.hostname());
	})());

export const localHost: Host = {
	name: 'this host',
	runner: localRunner,
	listDir: async dir => (await readdir(dir).catch(() => [])).map(file => path.join(dir, file)),
	exists: fileExists,
	remove: file => rm(file, {force: true}),
	freeBytes: async dir => {
		const fs = await statfs(dir);
		return fs.bavail * fs.bsize;
	},
	chain: headerChain,
	makeTempDir: dir => mkdtemp(path.join(dir, '.snapdeck-')),
	removeDir: dir => rm(dir, {recursive: true, force: true}),
	fetch: (file, local) => copyFile(file, local),
	push: (local, file) => copyFile(local, file, fsConstants.COPYFILE_EXCL),
	identity: readLocalIdentity,
};

/** One argument for a POSIX shell: single-quoted, a quote inside written as '\''. */
export const shellQuote = (argument: string) => `'${argument.replaceAll("'", "'\\''")}'`;

export interface SshTarget {
	readonly host: string;
	readonly user?: string;
	readonly port?: number;
	readonly keyfile?: string;
	/** Do not check the host key (libvirt's no_verify=1). */
	readonly noVerify?: boolean;
}

/**
 * ssh's destination and options for a target: never a password prompt, a bounded connect (and
 * banner), and keep-alives that end a connection whose peer stopped answering (3 x 15 s).
 */
function sshArgs(target: SshTarget): {destination: string; options: string[]} {
	const destination = target.user ? `${target.user}@${target.host}` : target.host;
	const options = [
		'-o',
		'BatchMode=yes',
		'-o',
		'ConnectTimeout=10',
		'-o',
		'ServerAliveInterval=15',
		'-o',
		'ServerAliveCountMax=3',
	];
	if (target.port) options.push('-p', String(target.port));
	if (target.keyfile) options.push('-i', target.keyfile);
	if (target.noVerify)
		options.push('-o', 'StrictHostKeyChecking=no', '-o', 'UserKnownHostsFile=/dev/null', '-o', 'LogLevel=ERROR');
	return {destination, options};
}

/**
 * Runs programs on another host over ssh. ssh hands the remote shell one string, so every
 * argument is quoted here; no VM, snapshot or file name can become a command there.
 */
export function sshRunner(target: SshTarget): CommandRunner {
	const {destination, options} = sshArgs(target);
	return {
		async run(command, args, runOptions = {}) {
			const {execa} = await loadExeca();
			const subprocess = execa('ssh', [...options, destination, '--', [command, ...args].map(shellQuote).join(' ')], {
				reject: false,
				cancelSignal: runOptions.signal,
				stdin: 'ignore',
				...(runOptions.timeoutMs ? {timeout: runOptions.timeoutMs, forceKillAfterDelay: 2000} : {}),
			});
			if (runOptions.onStdout)
				subprocess.stdout?.on('data', (chunk: Buffer) => runOptions.onStdout?.(chunk.toString('utf8')));
			const result = await subprocess;
			if (result.timedOut) throw timedOut(`${command} on ${destination}`, args, runOptions.timeoutMs!);
			if ((result as {code?: string}).code === 'ENOENT')
				throw new SnapdeckError('tool', 'ssh is not installed', 'install it: apt-get install openssh-client');
			if (result.isCanceled) throw new SnapdeckError('failed', `${command} on ${destination} was cancelled`);
			if (result.exitCode === 255)
				throw new SnapdeckError(
					'failed',
					`cannot reach ${destination} over ssh: ${result.stderr.trim().split('\n').at(-1) ?? ''}`,
					'check that `ssh` to it works without a password prompt',
					'unreachable',
				);
			if (result.exitCode === 127)
				throw new SnapdeckError(
					'tool',
					`${command} is not installed on ${destination}`,
					`install it there (qemu-img: apt-get install qemu-utils)`,
				);
			if (result.exitCode !== 0)
				throw new CommandFailed(
					command,
					args,
					result.exitCode ?? -1,
					lastWords(result.stderr || result.stdout),
					result.stdout,
				);
			return {stdout: result.stdout, stderr: result.stderr};
		},
	};
}

const LayerJson = z.looseObject({
	filename: z.string(),
	'virtual-size': z.number(),
	'backing-filename': z.string().optional(),
});
type Layer = z.infer<typeof LayerJson>;

/** How many layers one ssh connection reads at most. */
const LAYERS_PER_CONNECTION = 64;

/**
 * `qemu-img info` of layers on a remote host, many over one ssh connection: the layers asked for
 * in the same turn of the event loop go together (the chains of every domain a `list` reads walk
 * in step, a layer deep at a time), each batch after the last. One connection per layer made a
 * `list` of 30 domains with 4-image chains 120 ssh connections, a few at a time under sshd's
 * MaxStartups. The file names travel as arguments of `sh -c`, quoted like every argument.
 */
function layerReader(runner: CommandRunner, name: string): (file: string) => Promise<Layer> {
	let queue: Array<{file: string; resolve: (layer: Layer) => void; reject: (error: unknown) => void}> = [];
	let chain = Promise.resolve();
	const read = async (batch: typeof queue) => {
		const mark = `snapdeck-end-${randomBytes(8).toString('hex')}`;
		const script =
			'm=$1; shift; for f do qemu-img info -U --output=json -- "$f" 2>&1; printf \'\\n%s %s\\n\' "$m" "$?"; done';
		try {
			const {stdout} = await runner.run('sh', ['-c', script, 'sh', mark, ...batch.map(entry => entry.file)], {
				timeoutMs: metadataTimeoutMs(),
			});
			// Output, status, output, status...: each layer's output ends at the mark and its exit status.
			const parts = stdout.split(new RegExp(`\\n${mark} (\\d+)(?:\\n|$)`));
			for (const [index, entry] of batch.entries()) {
				const [output = '', status] = [parts[2 * index], parts[2 * index + 1]];
				if (status === undefined)
					entry.reject(new SnapdeckError('failed', `qemu-img info on ${name} gave no answer for ${entry.file}`));
				else if (status !== '0')
					entry.reject(new CommandFailed('qemu-img', ['info', entry.file], Number(status), lastWords(output), output));
				else {
					try {
						// Anything qemu-img warned before its answer (stderr is in the same stream) is not JSON.
						entry.resolve(
							parseJson(LayerJson, output.slice(Math.max(0, output.indexOf('{'))), `qemu-img info on ${name}`),
						);
					} catch (error) {
						entry.reject(error);
					}
				}
			}
		} catch (error) {
			for (const entry of batch) entry.reject(error);
		}
	};
	return file =>
		new Promise<Layer>((resolve, reject) => {
			if (queue.length === 0) {
				setImmediate(() => {
					const asked = queue;
					queue = [];
					for (let start = 0; start < asked.length; start += LAYERS_PER_CONNECTION)
						chain = chain.then(() => read(asked.slice(start, start + LAYERS_PER_CONNECTION)));
				});
			}
			queue.push({file, resolve, reject});
		});
}

/** `cat` on the host, its output straight into the local file; progress from the file's size. */
async function sshFetch(target: SshTarget, file: string, local: string, options: CopyOptions): Promise<void> {
	const {destination: name, options: ssh} = sshArgs(target);
	const {execa} = await loadExeca();
	const subprocess = execa('ssh', [...ssh, name, '--', `cat -- ${shellQuote(file)}`], {
		reject: false,
		cancelSignal: options.signal,
		stdin: 'ignore',
		stdout: {file: local},
	});
	const timer = setInterval(
		() =>
			void stat(local).then(
				({size}) => options.onBytes?.(size),
				() => undefined,
			),
		250,
	);
	try {
		const result = await subprocess;
		if (result.isCanceled) throw new SnapdeckError('failed', `copying ${file} from ${name} was cancelled`);
		if (result.exitCode !== 0)
			throw new SnapdeckError(
				'failed',
				`cannot copy ${file} from ${name}: ${String(result.stderr).trim().split('\n').at(-1) ?? `ssh exited with ${result.exitCode}`}`,
			);
	} finally {
		clearInterval(timer);
	}
	options.onBytes?.((await stat(local)).size);
}

/**
 * `cat` there reads the local file on its stdin; noclobber (set -C) keeps an existing file, and
 * the umask keeps the copy of a disk from being readable by anyone but its owner there.
 */
async function sshPush(target: SshTarget, local: string, file: string, options: CopyOptions): Promise<void> {
	const {destination: name, options: ssh} = sshArgs(target);
	const {execa} = await loadExeca();
	const subprocess = execa('ssh', [...ssh, name, '--', `umask 077 && set -C && cat > ${shellQuote(file)}`], {
		reject: false,
		cancelSignal: options.signal,
		stdin: 'pipe',
		stdout: 'ignore',
	});
	let sent = 0;
	const source = createReadStream(local).on('data', chunk => options.onBytes?.((sent += chunk.length)));
	// A refused or lost connection ends ssh early: its exit says why, not the broken pipe. A read
	// that fails here ends the copy there early too, with cat content: that is an error as well.
	const piped = pipeline(source, subprocess.stdin!).then(
		() => null,
		(error: Error) => error,
	);
	const result = await subprocess;
	const readError = await piped;
	if (result.exitCode === 0 && readError !== null)
		throw new SnapdeckError('failed', `cannot copy ${local} to ${name}: ${readError.message}`);
	if (result.isCanceled) throw new SnapdeckError('failed', `copying to ${file} on ${name} was cancelled`);
	if (result.exitCode !== 0)
		throw new SnapdeckError(
			'failed',
			`cannot write ${file} on ${name}: ${String(result.stderr).trim().split('\n').at(-1) ?? `ssh exited with ${result.exitCode}`}`,
		);
}

export function sshHost(target: SshTarget): Host {
	const runner = sshRunner(target);
	const name = target.user ? `${target.user}@${target.host}` : target.host;
	const readLayer = layerReader(runner, name);
	let identity: Promise<HostIdentity> | undefined;
	return {
		name,
		runner,
		identity: () =>
			(identity ??= runner
				.run(
					'sh',
					['-c', 'cat /etc/machine-id 2>/dev/null || cat /var/lib/dbus/machine-id 2>/dev/null; echo; hostname'],
					{timeoutMs: metadataTimeoutMs()},
				)
				.then(({stdout}) => {
					const [id = '', hostName = target.host] = stdout.split('\n');
					return hostIdentityFrom(id, hostName);
				})),
		listDir: async dir =>
			(await runner.run('ls', ['-1A', '--', dir]).catch(() => ({stdout: ''}))).stdout
				.split('\n')
				.filter(Boolean)
				.map(file => path.posix.join(dir, file)),
		exists: async file =>
			runner.run('test', ['-e', file]).then(
				() => true,
				(error: unknown) => {
					if (error instanceof CommandFailed && error.exitCode === 1) return false;
					throw error;
				},
			),
		remove: async file => void (await runner.run('rm', ['-f', '--', file])),
		freeBytes: async dir =>
			Number((await runner.run('df', ['-B1', '--output=avail', '--', dir])).stdout.trim().split('\n').at(-1)),
		makeTempDir: async dir => (await runner.run('mktemp', ['-d', '-p', dir, '.snapdeck-XXXXXX'])).stdout.trim(),
		removeDir: async dir => void (await runner.run('rm', ['-rf', '--', dir])),
		fetch: (file, local, options = {}) => sshFetch(target, file, local, options),
		push: (local, file, options = {}) => sshPush(target, local, file, options),
		// qemu-img over ssh (the header trick needs local files), each layer opened without its backing
		// file: --backing-chain would let qemu-img follow a protocol name (nbd://, json:) there.
		chain: file =>
			walkChain(
				file,
				async layer => {
					const info = await readLayer(layer);
					const backingName = info['backing-filename'] ?? null;
					return {
						virtualSize: info['virtual-size'],
						backingName,
						backing: backingName === null ? null : path.posix.resolve(path.posix.dirname(layer), backingName),
						corrupt: false,
					};
				},
				{failed: (error, what) => `${what} cannot be read on ${name}: ${errorMessage(error)}`},
			),
	};
}
