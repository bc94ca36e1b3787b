import {randomBytes} from 'node:crypto';
import {SnapdeckError} from '../../core/errors.js';
import {CommandFailed, localRunner, metadataTimeoutMs, type CommandRunner} from '../exec.js';
import {VirshSession} from './virsh-session.js';

/**
 * Quotes one argument for virsh's own command-line parser (used when several commands go to one
 * virsh process): single quotes, with a quote inside written as '\''. The whole batch is still
 * one argv element for virsh; no shell ever sees it.
 */
export const quoteForVirsh = (argument: string) => `'${argument.replaceAll("'", "'\\''")}'`;

/**
 * virsh commands that only read or change metadata, stopped when they take longer than
 * metadataTimeoutMs() (a libvirtd that hangs); block jobs, memory snapshots and their reverts copy
 * data and have no limit (they are cancellable).
 */
const QUICK = new Set([
	'list',
	'dumpxml',
	'domstate',
	'domblklist',
	'checkpoint-list',
	'checkpoint-delete',
	'snapshot-list',
	'snapshot-current',
	'snapshot-dumpxml',
	'backup-dumpxml',
	'domjobinfo',
	'blockjob',
	'define',
	'undefine',
	'start',
	'destroy',
	'suspend',
	'resume',
	'domjobabort',
	'qemu-agent-command',
	'version',
]);

/** Commands that may share the session's process (see VirshSession): quick ones, and those that only write metadata or an empty overlay. */
const inSession = (args: readonly string[]) =>
	(QUICK.has(args[0] ?? '') ||
		args[0] === 'domuuid' ||
		(args[0] === 'snapshot-create-as' && args.includes('--disk-only')) ||
		(args[0] === 'snapshot-create' && args.includes('--redefine')) ||
		(args[0] === 'snapshot-delete' && args.includes('--metadata'))) &&
	!args.some(arg => arg.includes('\n'));

/** Commands to a line of the session's batches (a domain's inventory is four). */
const SESSION_BATCH_LINE = 256;

/**
 * Runs `commands` as one virsh command line (`run` gives what virsh printed), each after an
 * `echo MARKER:INDEX:`, MARKER random, and cuts the output at the markers. virsh goes on past a
 * command that fails (its error goes to stderr, and virsh ends non-zero): what the others printed
 * is kept, and the failed one's output is empty. A process of its own ends each echo with a
 * newline, virsh's interactive mode (the session) does not; hence the optional newline after a
 * marker, and the colon after its index (an output may begin with a digit).
 */
async function batchScript(
	commands: ReadonlyArray<readonly string[]>,
	run: (script: string) => Promise<string>,
): Promise<string[]> {
	const marker = `snapdeck-${randomBytes(6).toString('hex')}`;
	const script = commands
		.map((command, index) => `echo ${marker}:${index}:; ${command.map(quoteForVirsh).join(' ')}`)
		.join('; ');
	const stdout = await run(script).catch((error: unknown) => {
		if (error instanceof CommandFailed) return error.stdout;
		throw error;
	});
	const outputs = commands.map(() => '');
	const parts = stdout.split(new RegExp(`${marker}:(\\d+):\n?`));
	for (let index = 1; index + 1 < parts.length; index += 2) outputs[Number(parts[index])] = parts[index + 1]!;
	return outputs;
}

/**
 * virsh against one connection URI, with arguments as arrays. On this machine its quick commands
 * share one virsh process for the life of the command (VirshSession; SNAPDECK_VIRSH_SESSION=0 gives
 * each its own process); block jobs, memory snapshots and anything cancellable get their own.
 */
export class Virsh {
	private readonly session: VirshSession | null;

	constructor(
		readonly uri: string,
		private readonly runner: CommandRunner,
	) {
		this.session =
			runner === localRunner && process.env['SNAPDECK_VIRSH_SESSION'] !== '0' ? new VirshSession(uri) : null;
	}

	/** Starts the session's virsh and its connection now, for commands that are about to come (nothing without a session). */
	warm(): void {
		this.session?.warm();
	}

	async run(
		args: readonly string[],
		options: {signal?: AbortSignal; onStdout?: (chunk: string) => void} = {},
	): Promise<string> {
		try {
			const timeoutMs = QUICK.has(args[0] ?? '') ? metadataTimeoutMs() : undefined;
			if (this.session && !options.signal && !options.onStdout && inSession(args))
				return (await this.session.run(args.map(quoteForVirsh).join(' '), args, timeoutMs)).stdout;
			return (await this.runner.run('virsh', ['--quiet', '-c', this.uri, ...args], {...options, timeoutMs})).stdout;
		} catch (error) {
			if (error instanceof CommandFailed) {
				const words = error.words.replace(/^error: /, '').replaceAll('error: ', '');
				// libvirt refuses disk operations on a stopped domain that has checkpoints (snapdeck's backups make
				// them): 9.0 'cannot perform block operations while checkpoint exists', 11.3 'support for
				// offline external snapshots while checkpoint exists was not yet implemented'.
				const hint = /while checkpoint exists/.test(words)
					? "libvirt refuses this on a stopped domain that has backup checkpoints: start the domain and do it while it runs, or drop the checkpoints ('virsh checkpoint-delete DOMAIN NAME --metadata'; the next backup is then a full)"
					: undefined;
				throw new SnapdeckError(
					'failed',
					`virsh ${args[0] ?? ''} on ${this.uri} failed: ${words}`,
					hint,
					hint === undefined ? undefined : 'checkpoint-blocks-snapshot',
				);
			}
			throw error;
		}
	}

	/**
	 * Runs many commands in one virsh process (one connection, ~1 ms a command instead of ~11 ms
	 * a process) and returns each command's output. virsh goes on past a command that fails and
	 * prints nothing for it (its error goes to stderr), so a caller treats an empty output where
	 * it expects one as a failure.
	 */
	async batch(commands: ReadonlyArray<readonly string[]>): Promise<string[]> {
		if (commands.length === 0) return [];
		const session = this.session;
		// In the session, a batch goes as lines of many commands each: every line virsh reads
		// interactively costs a prompt and the markers around it, and a command alone on its line
		// costs four (30 domains' inventory: 90 ms a command a line, 60 ms in one line).
		if (session && commands.every(inSession)) {
			const lines: Array<ReadonlyArray<readonly string[]>> = [];
			for (let index = 0; index < commands.length; index += SESSION_BATCH_LINE)
				lines.push(commands.slice(index, index + SESSION_BATCH_LINE));
			const outputs = await Promise.all(
				lines.map(line =>
					batchScript(line, async script => (await session.run(script, ['batch'], metadataTimeoutMs())).stdout),
				),
			);
			return outputs.flat();
		}
		return batchScript(
			commands,
			async script =>
				(await this.runner.run('virsh', ['-c', this.uri, script], {timeoutMs: metadataTimeoutMs()})).stdout,
		);
	}
}
