import {existsSync} from 'node:fs';
import {SnapdeckError} from '../core/errors.js';
import {maskCredentials} from '../core/notifications.js';
import {loadExeca, toolPath} from './exec.js';
import {holdGroup, signalGroup, signalProcess, watchStall} from './process-group.js';
import {sftpCommand} from './restic-sftp.js';
import {formatWait} from '../core/units.js';

/**
 * A restic repository snapdeck copies points to: a local path, sftp:, rest:, s3:, b2:, rclone:...
 * (restic's own repository strings), with how to get its password.
 */
export interface ResticTarget {
	/** Its name in the config's "offsite", or null when given on the command line. */
	readonly name: string | null;
	readonly repository: string;
	/** A file holding the password (restic's --password-file). */
	readonly passwordFile?: string;
	/** A command printing the password (restic's --password-command). */
	readonly passwordCommand?: string;
	/** Extended options (restic's -o KEY=VALUE), e.g. sftp.command. */
	readonly options?: Readonly<Record<string, string>>;
}

/** How a target is named in messages: its config name and repository, or the repository. */
export const targetLabel = (target: ResticTarget) =>
	target.name === null
		? maskCredentials(target.repository)
		: `'${target.name}' (${maskCredentials(target.repository)})`;

/** What went wrong with a restic run, as snapdeck tells the operator. */
export type ResticFailure =
	'no-repository' | 'wrong-password' | 'no-password' | 'unreachable' | 'full' | 'append-only' | 'locked' | 'other';

export class ResticError extends SnapdeckError {
	/** restic's own error lines (no progress, no stack traces). */
	details: readonly string[] = [];

	constructor(
		readonly failure: ResticFailure,
		message: string,
		hint?: string,
	) {
		super(
			failure === 'append-only' ? 'refused' : failure === 'no-password' ? 'usage' : 'failed',
			message,
			hint,
			failure === 'unreachable'
				? 'unreachable'
				: failure === 'full'
					? 'no-space'
					: failure === 'locked'
						? 'busy'
						: undefined,
		);
	}
}

/** restic's words without its progress lines and Go stack traces. */
const meaningfulLines = (words: string) =>
	words
		.split(/\r?\n/)
		.map(line => line.trim())
		.filter(line => line && !/^\[\d+:\d+\]|\.go:\d+$|^(main|runtime|github\.com|golang\.org)[./]/.test(line));

/** restic's words for each failure (restic 0.14 to 0.17; its exit code is 1 for all of them). */
const FAILURES: ReadonlyArray<[ResticFailure, RegExp]> = [
	['append-only', /403 Forbidden|append-only|not allowed to (remove|delete)/i],
	['no-password', /Please specify (the )?password|empty password|password is empty|resolving password failed/i],
	['wrong-password', /wrong password or no key found/i],
	['full', /no space left on device|Insufficient Storage|quota exceeded|disk quota/i],
	['locked', /repository is already locked/i],
	// Before no-repository: restic says "Is there a repository...?" also when it could not ask.
	[
		'unreachable',
		/connection refused|no such host|could not resolve|network is unreachable|timed out|i\/o timeout|Connection closed|unable to start the sftp session|host key verification failed|permission denied \(publickey/i,
	],
	[
		'no-repository',
		/Is there a repository at the following location\?|unable to open config file|config (file )?does not exist/i,
	],
];

export function classifyResticError(words: string): ResticFailure {
	return FAILURES.find(([, pattern]) => pattern.test(words))?.[0] ?? 'other';
}

/** A failure's message and what to do about it. */
function explain(target: ResticTarget, failure: ResticFailure, words: string, command: string): ResticError {
	const error = describe(target, failure, words, command);
	error.details = meaningfulLines(words);
	return error;
}

function describe(target: ResticTarget, failure: ResticFailure, words: string, command: string): ResticError {
	const label = targetLabel(target);
	const lines = meaningfulLines(words);
	// The line that shows the failure (restic's Fatal: line, say), else its last words.
	const pattern = FAILURES.find(([kind]) => kind === failure)?.[1];
	const last =
		(pattern && lines.find(line => pattern.test(line))) ??
		lines.find(line => line.startsWith('Fatal:')) ??
		lines.slice(-2).join(' / ');
	switch (failure) {
		case 'no-repository':
			return new ResticError(
				failure,
				`there is no restic repository at ${label}`,
				`check the repository string; 'snapdeck copy VM --target ${target.name ?? target.repository}' creates one there`,
			);
		case 'wrong-password':
			return new ResticError(
				failure,
				`the password for ${label} is wrong (restic: ${last})`,
				target.passwordFile
					? `check ${target.passwordFile}`
					: target.passwordCommand
						? 'check the password command'
						: 'check RESTIC_PASSWORD_FILE (or RESTIC_PASSWORD)',
			);
		case 'no-password':
			return new ResticError(
				failure,
				`no password is given for ${label}`,
				'set RESTIC_PASSWORD_FILE (a file holding it), or "passwordFile" of the target under "offsite" in the config',
			);
		case 'unreachable':
			return new ResticError(
				failure,
				`${label} cannot be reached: ${last}`,
				'check the network, the host and the credentials, then run the same command again; nothing was changed on it',
			);
		case 'full':
			return new ResticError(
				failure,
				`${label} is full: ${last}`,
				`free space there (for example 'snapdeck prune VM --from ${target.name ?? target.repository}'), then copy again; the next copy reuses what was already uploaded`,
			);
		case 'append-only':
			return new ResticError(
				failure,
				`${label} refuses deletes (an append-only target): restic ${command} cannot remove anything there`,
				'this is the protection it is meant to give: prune it where deletes are allowed (on its server, with restic forget and prune), or with credentials that may delete',
			);
		case 'locked':
			return new ResticError(
				failure,
				`${label} is locked by another restic run: ${last}`,
				`wait for it to end; if it was killed, 'restic -r ${target.repository} unlock' removes its stale lock`,
			);
		default:
			return new ResticError(failure, `restic ${command} on ${label} failed: ${last || 'no reason given'}`);
	}
}

export interface ResticRunOptions {
	readonly signal?: AbortSignal;
	/**
	 * How the run is bounded. 'metadata' (snapshots, ls, a manifest's dump, check of the structure,
	 * init, forget): a time limit, and the stall limit. 'data' (backup, restore, a file's dump,
	 * check --read-data, prune): the stall limit only, since their length follows the data.
	 */
	readonly bound: 'metadata' | 'data';
	/** A metadata run that reads the whole repository's index and trees (check): its time limit is this many times the usual. */
	readonly slow?: number;
	/** Working directory (backup: the folder whose files are copied). */
	readonly cwd?: string;
	/** Each JSON line restic prints on stdout (--json), as it arrives. */
	readonly onJson?: (value: Record<string, unknown>) => void;
	/**
	 * Ends the run as soon as stderr shows this failure: restic retries a refused delete for minutes
	 * before it gives up, and an append-only target will never allow it.
	 */
	readonly stopOn?: ResticFailure;
	/** Takes stdout as it comes (restic dump), instead of buffering it. */
	readonly onData?: (chunk: Buffer) => void;
	/** The most stdout that is buffered (a manifest's dump): past it the run is stopped, and refused. */
	readonly maxOutput?: number;
}

const positive = (name: string, fallback: number) => {
	const value = Number(process.env[name]);
	return Number.isFinite(value) && value > 0 ? value : fallback;
};

/** How long a metadata command may take in all (SNAPDECK_RESTIC_TIMEOUT_MS). */
export const resticTimeLimitMs = () => positive('SNAPDECK_RESTIC_TIMEOUT_MS', 300_000);
/** How long any restic run may move no bytes at all, over the network or on disk (SNAPDECK_RESTIC_STALL_MS). */
export const resticStallMs = () => positive('SNAPDECK_RESTIC_STALL_MS', 60_000);
/** How long restic has after SIGINT (removing its lock) before its whole process group is killed. */
const GRACE_MS = 10_000;

/** The environment restic runs with: the target's password source, or the caller's RESTIC_PASSWORD* as given. */
function resticEnv(target: ResticTarget): Record<string, string | undefined> {
	const env: Record<string, string | undefined> = {RESTIC_REPOSITORY: target.repository, RESTIC_PROGRESS_FPS: '2'};
	if (target.passwordFile !== undefined || target.passwordCommand !== undefined) {
		Object.assign(env, {
			RESTIC_PASSWORD: undefined,
			RESTIC_PASSWORD_FILE: target.passwordFile,
			RESTIC_PASSWORD_COMMAND: target.passwordCommand,
		});
	}
	return env;
}

/** restic's -o options: the target's own, and for sftp: a bounded ssh of snapdeck's where the target names none. */
function extendedOptions(target: ResticTarget): string[] {
	const options = {...target.options};
	if (target.repository.startsWith('sftp:') && options['sftp.command'] === undefined)
		options['sftp.command'] = sftpCommand(target.repository, existsSync('/usr/bin/setpriv'));
	return Object.entries(options).flatMap(([key, value]) => ['-o', `${key}=${value}`]);
}

/** Why a run was stopped by snapdeck rather than by restic itself. */
type Stop = {kind: 'failure'; failure: ResticFailure} | {kind: 'error'; error: SnapdeckError} | {kind: 'cancel'};

/** Starts restic, without a terminal, in a process group of its own; under setpriv where there is one. */
async function startRestic(target: ResticTarget, args: readonly string[], options: ResticRunOptions) {
	// Under setpriv, the kernel sends restic SIGINT when snapdeck dies (even by SIGKILL): it then
	// removes its lock and exits without writing a snapshot, instead of finishing one unseen.
	const setpriv = existsSync('/usr/bin/setpriv');
	const command = [toolPath('restic'), ...extendedOptions(target), ...args];
	const {execa} = await loadExeca();
	const subprocess = execa(
		setpriv ? '/usr/bin/setpriv' : command[0]!,
		setpriv ? ['--pdeathsig', 'INT', '--', ...command] : command.slice(1),
		{
			reject: false,
			stdin: 'ignore',
			encoding: 'utf8',
			cwd: options.cwd,
			env: resticEnv(target),
			extendEnv: true,
			detached: true,
			buffer: {stdout: options.onData === undefined, stderr: false},
			...(options.maxOutput === undefined ? {} : {maxBuffer: {stdout: options.maxOutput}}),
		},
	);
	return {subprocess, setpriv};
}

/** Stops a run once, for the first reason given: restic alone (SIGINT), then its whole group after GRACE_MS. */
function runStopper(group: number | undefined) {
	let stopped: Stop | null = null;
	let killer: NodeJS.Timeout | undefined;
	return {
		stop(why: Stop) {
			if (stopped !== null || group === undefined) return;
			stopped = why;
			// restic alone first: its ssh must still carry the removal of its lock.
			signalProcess(group, 'SIGINT');
			killer = setTimeout(() => signalGroup(group, 'SIGKILL'), GRACE_MS);
		},
		/** Why the run was stopped, if it was. */
		why: () => stopped,
		/** Ends the wait for the grace period. */
		end: () => clearTimeout(killer),
	};
}

/**
 * Runs restic on a target, never through a shell, without a terminal (it never prompts for a
 * password), in a session and process group of its own with whatever it starts (ssh, rclone).
 * Cancelling, a stall or the time limit send restic SIGINT, on which it removes its lock and
 * exits; the whole group is killed after GRACE_MS, and whatever is left of it when restic ends.
 */
export async function restic(
	target: ResticTarget,
	args: readonly string[],
	options: ResticRunOptions,
): Promise<string> {
	const {subprocess, setpriv} = await startRestic(target, args, options);
	const group = subprocess.pid;
	const held = group === undefined ? null : holdGroup(group);
	const stopper = runStopper(group);
	const stop = stopper.stop;
	const name = args[0] ?? '';
	const unreachable = (what: string): Stop => ({
		kind: 'error',
		error: new ResticError(
			'unreachable',
			`${targetLabel(target)} cannot be reached: ${what}; restic ${name} was stopped`,
			'check the network and the host, then run the same command again; a copy that was stopped made no snapshot there',
		),
	});
	const onAbort = () => stop({kind: 'cancel'});
	options.signal?.addEventListener('abort', onAbort);
	if (options.signal?.aborted) onAbort();
	const stallMs = resticStallMs();
	let ownBytes = 0;
	const watchdog =
		group === undefined
			? null
			: watchStall(
					group,
					stallMs,
					() => ownBytes,
					() => stop(unreachable(`nothing moved for ${formatWait(stallMs)}`)),
				);
	const limitMs = resticTimeLimitMs() * (options.slow ?? 1);
	const limit =
		options.bound === 'metadata'
			? setTimeout(() => stop(unreachable(`no answer within ${formatWait(limitMs)}`)), limitMs)
			: undefined;
	let stderr = '';
	subprocess.stdout?.on('data', (chunk: Buffer) => {
		ownBytes += chunk.length;
		options.onData?.(chunk);
	});
	subprocess.stderr?.on('data', (chunk: Buffer) => {
		ownBytes += chunk.length;
		stderr = `${stderr}${chunk.toString('utf8')}`.slice(-20_000);
		if (options.stopOn !== undefined && classifyResticError(chunk.toString('utf8')) === options.stopOn)
			stop({kind: 'failure', failure: options.stopOn});
	});
	if (options.onJson) subprocess.stdout?.on('data', jsonLines(options.onJson));
	try {
		const result = await subprocess;
		return outcome(target, args, options, result, stopper.why(), stderr, setpriv);
	} finally {
		options.signal?.removeEventListener('abort', onAbort);
		watchdog?.stop();
		clearTimeout(limit);
		stopper.end();
		// What restic started and left behind (an ssh it did not wait for) goes with it.
		if (group !== undefined) signalGroup(group, 'SIGKILL');
		held?.release();
	}
}

/** Each whole JSON line of a stream, parsed (restic --json). */
function jsonLines(onJson: (value: Record<string, unknown>) => void) {
	let partial = '';
	return (chunk: Buffer) => {
		const lines = `${partial}${chunk.toString('utf8')}`.split('\n');
		partial = lines.pop()!;
		for (const line of lines) {
			if (!line.startsWith('{')) continue;
			try {
				onJson(JSON.parse(line) as Record<string, unknown>);
			} catch {
				// A line restic did not finish as JSON: not progress.
			}
		}
	};
}

/** What a finished run means: its stdout, or the error that says what went wrong. */
function outcome(
	target: ResticTarget,
	args: readonly string[],
	options: ResticRunOptions,
	result: {exitCode?: number; stdout?: unknown; isMaxBuffer?: boolean; code?: string},
	stopped: Stop | null,
	stderr: string,
	setpriv: boolean,
): string {
	const name = args[0] ?? '';
	if (result.code === 'ENOENT' || (setpriv && result.exitCode === 127))
		throw new SnapdeckError('tool', 'restic is not installed (or not on PATH)', 'install it: apt-get install restic');
	const stop = stopped as Stop | null;
	if (stop?.kind === 'failure') throw explain(target, stop.failure, stderr, name);
	if (stop?.kind === 'error') throw stop.error;
	if (stop?.kind === 'cancel') throw new SnapdeckError('failed', `restic ${name} was cancelled`);
	if (result.isMaxBuffer)
		throw new SnapdeckError(
			'failed',
			`restic ${name} on ${targetLabel(target)} printed more than ${options.maxOutput} bytes: what it holds there is not what snapdeck wrote`,
			'someone with the password changed the target: check who can write to it',
		);
	if (result.exitCode !== 0) {
		const words = `${stderr}\n${typeof result.stdout === 'string' && !options.onJson ? result.stdout : ''}`;
		throw explain(target, classifyResticError(words), words, name);
	}
	return typeof result.stdout === 'string' ? result.stdout : '';
}
