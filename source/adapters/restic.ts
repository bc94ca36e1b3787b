import {existsSync} from 'node:fs';
import {SnapdeckError} from '../core/errors.js';
import {maskCredentials} from '../core/notify.js';
import {loadExeca, toolPath} from './exec.js';

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
export const targetLabel = (target: ResticTarget) => (target.name === null ? maskCredentials(target.repository) : `'${target.name}' (${maskCredentials(target.repository)})`);

/** What went wrong with a restic run, as snapdeck tells the operator. */
export type ResticFailure = 'no-repository' | 'wrong-password' | 'no-password' | 'unreachable' | 'full' | 'append-only' | 'locked' | 'other';

export class ResticError extends SnapdeckError {
	/** restic's own error lines (no progress, no stack traces). */
	details: readonly string[] = [];

	constructor(readonly failure: ResticFailure, message: string, hint?: string) {
		super(failure === 'append-only' ? 'refused' : failure === 'no-password' ? 'usage' : 'failed', message, hint, failure === 'unreachable' ? 'unreachable' : failure === 'full' ? 'no-space' : failure === 'locked' ? 'busy' : undefined);
	}
}

/** restic's words without its progress lines and Go stack traces. */
const meaningfulLines = (words: string) => words.split(/\r?\n/).map(line => line.trim()).filter(line => line && !/^\[\d+:\d+\]|\.go:\d+$|^(main|runtime|github\.com|golang\.org)[./]/.test(line));

/** restic's words for each failure (restic 0.14 to 0.17; its exit code is 1 for all of them). */
const FAILURES: ReadonlyArray<[ResticFailure, RegExp]> = [
	['append-only', /403 Forbidden|append-only|not allowed to (remove|delete)/i],
	['no-password', /Please specify (the )?password|empty password|password is empty|resolving password failed/i],
	['wrong-password', /wrong password or no key found/i],
	['full', /no space left on device|Insufficient Storage|quota exceeded|disk quota/i],
	['locked', /repository is already locked/i],
	// Before no-repository: restic says "Is there a repository...?" also when it could not ask.
	['unreachable', /connection refused|no such host|could not resolve|network is unreachable|timed out|i\/o timeout|Connection closed|unable to start the sftp session|host key verification failed|permission denied \(publickey/i],
	['no-repository', /Is there a repository at the following location\?|unable to open config file|config (file )?does not exist/i],
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
	const last = (pattern && lines.find(line => pattern.test(line))) ?? lines.find(line => line.startsWith('Fatal:')) ?? lines.slice(-2).join(' / ');
	switch (failure) {
		case 'no-repository':
			return new ResticError(failure, `there is no restic repository at ${label}`, `check the repository string; 'snapdeck copy VM --to ${target.name ?? target.repository}' creates one there`);
		case 'wrong-password':
			return new ResticError(failure, `the password for ${label} is wrong (restic: ${last})`, target.passwordFile ? `check ${target.passwordFile}` : target.passwordCommand ? 'check the password command' : 'check RESTIC_PASSWORD_FILE (or RESTIC_PASSWORD)');
		case 'no-password':
			return new ResticError(failure, `no password is given for ${label}`, 'set RESTIC_PASSWORD_FILE (a file holding it), or "passwordFile" of the target under "offsite" in the config');
		case 'unreachable':
			return new ResticError(failure, `${label} cannot be reached: ${last}`, 'check the network, the host and the credentials, then run the same command again; nothing was changed on it');
		case 'full':
			return new ResticError(failure, `${label} is full: ${last}`, `free space there (for example 'snapdeck prune VM --from ${target.name ?? target.repository}'), then copy again; the next copy reuses what was already uploaded`);
		case 'append-only':
			return new ResticError(failure, `${label} refuses deletes (an append-only target): restic ${command} cannot remove anything there`, 'this is the protection it is meant to give: prune it where deletes are allowed (on its server, with restic forget and prune), or with credentials that may delete');
		case 'locked':
			return new ResticError(failure, `${label} is locked by another restic run: ${last}`, `wait for it to end; if it was killed, 'restic -r ${target.repository} unlock' removes its stale lock`);
		default:
			return new ResticError(failure, `restic ${command} on ${label} failed: ${last || 'no reason given'}`);
	}
}

export interface ResticRunOptions {
	readonly signal?: AbortSignal;
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
}

/** The environment restic runs with: the target's password source, or the caller's RESTIC_PASSWORD* as given. */
function resticEnv(target: ResticTarget): Record<string, string | undefined> {
	const env: Record<string, string | undefined> = {RESTIC_REPOSITORY: target.repository, RESTIC_PROGRESS_FPS: '2'};
	if (target.passwordFile !== undefined || target.passwordCommand !== undefined) {
		Object.assign(env, {RESTIC_PASSWORD: undefined, RESTIC_PASSWORD_FILE: target.passwordFile, RESTIC_PASSWORD_COMMAND: target.passwordCommand});
	}
	return env;
}

/**
 * Runs restic on a target, never through a shell, without a terminal (it never prompts for a
 * password). Cancelling sends SIGINT, on which restic removes its lock and exits; SIGKILL follows
 * after 10 s.
 */
export async function restic(target: ResticTarget, args: readonly string[], options: ResticRunOptions = {}): Promise<string> {
	const extended = Object.entries(target.options ?? {}).flatMap(([key, value]) => ['-o', `${key}=${value}`]);
	const stop = new AbortController();
	const signal = options.signal ? AbortSignal.any([options.signal, stop.signal]) : stop.signal;
	// Under setpriv, the kernel sends restic SIGINT when snapdeck dies (even by SIGKILL): it then
	// removes its lock and exits without writing a snapshot, instead of finishing one unseen.
	const setpriv = existsSync('/usr/bin/setpriv');
	const command = [toolPath('restic'), ...extended, ...args];
	const {execa} = await loadExeca();
	const subprocess = execa(setpriv ? '/usr/bin/setpriv' : command[0]!, setpriv ? ['--pdeathsig', 'INT', '--', ...command] : command.slice(1), {
		reject: false, stdin: 'ignore', encoding: 'utf8', cwd: options.cwd, env: resticEnv(target), extendEnv: true,
		cancelSignal: signal, killSignal: 'SIGINT', forceKillAfterDelay: 10_000, buffer: {stdout: options.onData === undefined, stderr: false},
	});
	if (options.onData) subprocess.stdout?.on('data', options.onData);
	let stderr = '';
	let stoppedFor: ResticFailure | null = null;
	subprocess.stderr?.on('data', (chunk: Buffer) => {
		stderr = `${stderr}${chunk.toString('utf8')}`.slice(-20_000);
		if (options.stopOn !== undefined && stoppedFor === null && classifyResticError(chunk.toString('utf8')) === options.stopOn) {
			stoppedFor = options.stopOn;
			stop.abort();
		}
	});
	if (options.onJson) {
		let partial = '';
		subprocess.stdout?.on('data', (chunk: Buffer) => {
			const lines = `${partial}${chunk.toString('utf8')}`.split('\n');
			partial = lines.pop()!;
			for (const line of lines) {
				if (!line.startsWith('{')) continue;
				try {
					options.onJson?.(JSON.parse(line) as Record<string, unknown>);
				} catch {
					// A line restic did not finish as JSON: not progress.
				}
			}
		});
	}
	const result = await subprocess;
	if ((result as {code?: string}).code === 'ENOENT' || (setpriv && result.exitCode === 127)) throw new SnapdeckError('tool', 'restic is not installed (or not on PATH)', 'install it: apt-get install restic');
	if (stoppedFor !== null) throw explain(target, stoppedFor, stderr, args[0] ?? '');
	if (result.isCanceled) throw new SnapdeckError('failed', `restic ${args[0] ?? ''} was cancelled`);
	if (result.exitCode !== 0) {
		const words = `${stderr}\n${typeof result.stdout === 'string' && !options.onJson ? result.stdout : ''}`;
		throw explain(target, classifyResticError(words), words, args[0] ?? '');
	}
	return typeof result.stdout === 'string' ? result.stdout : '';
}
