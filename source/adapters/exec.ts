import {existsSync} from 'node:fs';
import {SnapdeckError} from '../core/errors.js';
import {formatWait} from '../core/units.js';

/**
 * Test hook for crash safety: SNAPDECK_CRASH_AT=NAME kills snapdeck outright (SIGKILL) where
 * crashPoint(NAME) stands (inside QMP jobs: job:KIND). Jobs mark their steps through the runner
 * (KIND:STEP, core/job-kinds.ts); plans have their own (during:N, after:N).
 */
export const crashPoint = (name: string): void => {
	if (process.env['SNAPDECK_CRASH_AT'] === name) process.kill(process.pid, 'SIGKILL');
};

let execaModule: Promise<typeof import('execa')> | undefined;
/**
 * execa, loaded on first use: a command that starts no process (`list` of a local lab or over the
 * virsh session, the UI until its first job) does not compile it and its dependencies (a 240 KB
 * chunk, ~23 ms of every start; measured by importing the chunk alone).
 */
export const loadExeca = (): Promise<typeof import('execa')> => (execaModule ??= import('execa'));

/** Debian package that ships each external tool, for the "install it" hint. */
const PACKAGE_OF: Record<string, string> = {
	'qemu-img': 'qemu-utils',
	'qemu-io': 'qemu-utils',
	'qemu-system-x86_64': 'qemu-system-x86',
	'qemu-storage-daemon': 'qemu-system-common',
	virsh: 'libvirt-clients',
};

export interface RunOptions {
	readonly signal?: AbortSignal;
	/**
	 * Ends the command (SIGTERM, then SIGKILL 2 s later) when it has not finished by then. Commands
	 * that only read or write metadata take one; jobs that copy data have none (they are cancellable).
	 */
	readonly timeoutMs?: number;
	/** Called with each chunk the command writes to stdout, as it arrives. */
	readonly onStdout?: (chunk: string) => void;
}

export interface RunResult {
	readonly stdout: string;
	readonly stderr: string;
}

/** Runs programs with an argument array, never through a shell. */
export interface CommandRunner {
	run(command: string, args: readonly string[], options?: RunOptions): Promise<RunResult>;
}

/** A tool that is not there, with the Debian package that ships it. */
export function toolMissing(command: string): SnapdeckError {
	const pkg = PACKAGE_OF[command];
	return new SnapdeckError(
		'tool',
		`${command} is not installed (or not on PATH)`,
		pkg ? `install it: apt-get install ${pkg}` : undefined,
	);
}

/** The binary to use for a tool; SNAPDECK_QEMU_IMG and the like point at another build. */
export const toolPath = (tool: string): string =>
	process.env[`SNAPDECK_${tool.toUpperCase().replaceAll('-', '_')}`] ?? tool;

export const localRunner: CommandRunner = {
	async run(command, args, options = {}) {
		const {execa} = await loadExeca();
		const subprocess = execa(toolPath(command), args, {
			reject: false,
			cancelSignal: options.signal,
			stdin: 'ignore',
			encoding: 'utf8',
			...(options.timeoutMs ? {timeout: options.timeoutMs, forceKillAfterDelay: 2000} : {}),
		});
		if (options.onStdout) subprocess.stdout?.on('data', (chunk: Buffer) => options.onStdout?.(chunk.toString('utf8')));
		const result = await subprocess;
		if (result.timedOut) throw timedOut(command, args, options.timeoutMs!);
		if (result.isCanceled) throw new SnapdeckError('failed', `${command} was cancelled`);
		if ((result as {code?: string}).code === 'ENOENT') throw toolMissing(command);
		if (result.exitCode !== 0) {
			const words = lastWords(result.stderr || result.stdout || (result.message ?? ''));
			throw new CommandFailed(command, args, result.exitCode ?? -1, words, result.stdout);
		}
		return {stdout: result.stdout, stderr: result.stderr};
	},
};

/** The last lines a tool wrote, on one line: what a failure report quotes. */
export const lastWords = (text: string, lines = 3) => text.trim().split('\n').filter(Boolean).slice(-lines).join(' / ');

/** A command that did not finish in time, with where to look. */
export const timedOut = (command: string, args: readonly string[], ms: number) =>
	new SnapdeckError(
		'failed',
		`${command} ${args[0] ?? ''} did not finish within ${formatWait(ms)} and was stopped`,
		'something holds it up: a hung storage mount (NFS, iSCSI), an image another process has locked, or an overloaded host; check, then try again',
	);

/**
 * How long commands that only read or change metadata may take before they are stopped
 * (SNAPDECK_METADATA_TIMEOUT_MS for another limit). Read at each use, never at load: the startup
 * snapshot (scripts/bundle.mjs) loads this module when it is built, with the build's environment.
 */
export const metadataTimeoutMs = () => Number(process.env['SNAPDECK_METADATA_TIMEOUT_MS']) || 120_000;

export class CommandFailed extends SnapdeckError {
	constructor(
		readonly command: string,
		readonly args: readonly string[],
		readonly exitCode: number,
		readonly words: string,
		readonly stdout: string,
	) {
		super('failed', `${command} ${args[0] ?? ''} failed (exit ${exitCode}): ${words}`);
	}
}

/** A helper program that must not outlive snapdeck, running in the background. */
export interface Companion {
	readonly pid: number;
	/** Settles when it exits: its exit code, and the last lines it wrote to stderr. */
	readonly exited: Promise<{code: number | null; words: string}>;
}

/**
 * Starts `command` in the background as snapdeck's child, in its own process group (Ctrl-C in the
 * terminal is snapdeck's to handle), and where util-linux's setpriv is there, with the kernel told
 * to send it SIGTERM when snapdeck dies: a snapdeck killed by SIGKILL or a dropped SSH session
 * then leaves no qemu-storage-daemon holding a VM's image locks.
 */
export async function startCompanion(command: string, args: readonly string[]): Promise<Companion> {
	const {execa} = await loadExeca();
	const setpriv = existsSync('/usr/bin/setpriv');
	const subprocess = setpriv
		? execa('/usr/bin/setpriv', ['--pdeathsig', 'TERM', '--', toolPath(command), ...args], {
				reject: false,
				stdin: 'ignore',
				stdout: 'ignore',
				detached: true,
				encoding: 'utf8',
			})
		: execa(toolPath(command), args, {
				reject: false,
				stdin: 'ignore',
				stdout: 'ignore',
				detached: true,
				encoding: 'utf8',
			});
	const exited = subprocess.then(result => {
		// setpriv reports a missing program as exit 127 and its own words on stderr.
		if ((result as {code?: string}).code === 'ENOENT' || (setpriv && result.exitCode === 127))
			throw toolMissing(command);
		return {code: result.exitCode ?? null, words: lastWords(String(result.stderr ?? ''))};
	});
	return {pid: subprocess.pid ?? -1, exited};
}
