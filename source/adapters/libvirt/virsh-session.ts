import {spawn, type ChildProcessWithoutNullStreams} from 'node:child_process';
import {randomBytes} from 'node:crypto';
import {CommandFailed, lastWords, timedOut, toolMissing, toolPath} from '../exec.js';

/** A session with nothing to do for this long ends its process (a UI left open holds no connection it does not use). */
const IDLE_CLOSE_MS = 5000;

interface Waiting {
	readonly line: string;
	readonly args: readonly string[];
	/** The random part of the markers that follow the command. */
	readonly token: string;
	readonly resolve: (result: {stdout: string; stderr: string}) => void;
	readonly reject: (error: unknown) => void;
	readonly timer: NodeJS.Timeout | null;
}

/**
 * One virsh process, and so one libvirt connection, for the life of a command: virsh's
 * interactive mode reads commands from its standard input and answers each at once. A process of
 * its own costs a start and a connect per virsh command (40-120 ms each on the project's machine,
 * more on a loaded host); here a command costs its own work only.
 *
 * Each command goes between `echo 'TOKEN'-begin` and `echo 'TOKEN'-done`, then `echo --err
 * 'TOKEN'-done`, TOKEN random: the command's output is what virsh printed between `TOKEN-begin` and
 * `TOKEN-done` (which the quoted typed lines do not contain, so no echo of them is taken for a
 * marker), less the line editor's echo of the typed command (everything up to the first newline:
 * it shows a typed line on one line, cut at the terminal's width when long) and of the done
 * marker's `echo` (from the last prompt on); its error words are what came to stderr before
 * `error: TOKEN-done`. Nothing an output holds (a domain's description) can move those cuts.
 * Commands are written as they come and answered in order.
 *
 * While nothing waits, the process holds nothing open for Node (snapdeck exits when its work is
 * done, and virsh at the end of its input). It is started again after it died, and ended when a
 * command outlives its time limit.
 */
export class VirshSession {
	private child: ChildProcessWithoutNullStreams | null = null;
	private stdout = '';
	/** The last 4 characters of stdout, kept apart (reading them from stdout would join its pieces every chunk). */
	private stdoutTail = '';
	private stderr = '';
	private readonly waiting: Waiting[] = [];
	private idleTimer: NodeJS.Timeout | null = null;

	constructor(private readonly uri: string) {}

	/** Runs one virsh command (its arguments quoted for virsh's parser) and gives its output; one that failed throws CommandFailed. */
	run(line: string, args: readonly string[], timeoutMs: number | undefined): Promise<{stdout: string; stderr: string}> {
		const child = this.child ?? (this.child = this.start());
		const token = `snapdeck-${randomBytes(9).toString('hex')}`;
		return new Promise((resolve, reject) => {
			const timer =
				timeoutMs === undefined
					? null
					: setTimeout(() => this.fail(child, timedOut('virsh', args, timeoutMs)), timeoutMs);
			this.waiting.push({line, args, token, resolve, reject, timer});
			this.hold(child);
			child.stdin.write(`echo '${token}'-begin\n${line}\necho '${token}'-done\necho --err '${token}'-done\n`);
		});
	}

	/**
	 * Starts the process (and so its connection to libvirt) ahead of the first command, while the
	 * caller does other work: virsh's start and connect are 40-120 ms here, more over ssh.
	 */
	warm(): void {
		this.child ??= this.start();
	}

	/** Ends the process. */
	close(): void {
		const child = this.child;
		this.child = null;
		if (!child) return;
		child.stdin.end();
		child.kill();
	}

	private start(): ChildProcessWithoutNullStreams {
		// TERM=dumb: virsh's line editor shows each typed line on one line (cut, never wrapped or coloured).
		const child = spawn(toolPath('virsh'), ['--quiet', '-c', this.uri], {
			stdio: ['pipe', 'pipe', 'pipe'],
			env: {...process.env, TERM: 'dumb'},
		});
		this.stdout = '';
		this.stdoutTail = '';
		this.stderr = '';
		child.stdout.setEncoding('utf8');
		child.stderr.setEncoding('utf8');
		child.stdout.on('data', (chunk: string) => {
			// An answer can end only in a chunk that completes a '-done' (with the 4 characters before
			// it): searching the whole buffer on every chunk made a batch of 40 snapshot XMLs (600 KB)
			// cost its length squared.
			const seen = this.stdoutTail + chunk;
			this.stdoutTail = seen.slice(-4);
			this.stdout += chunk;
			if (seen.includes('-done')) this.settle();
		});
		child.stderr.on('data', (chunk: string) => {
			this.stderr += chunk;
			this.settle();
		});
		// A virsh that is not there says which package to install, as a process of its own would.
		child.on('error', error =>
			this.fail(child, (error as NodeJS.ErrnoException).code === 'ENOENT' ? toolMissing('virsh') : error),
		);
		// Ended before it answered (it could not connect, or was killed): its last words, as a process of its own would give them.
		child.on('exit', (code, signal) => {
			const words = lastWords(this.stderr.replaceAll('error: ', ''), 2);
			this.fail(
				child,
				new CommandFailed(
					'virsh',
					[],
					code ?? -1,
					words || `virsh ended (${signal ?? `exit ${code}`}) before it answered`,
					this.stdout,
				),
			);
		});
		child.stdin.on('error', () => undefined);
		this.hold(child);
		return child;
	}

	/** Every command still waiting on `child` fails with `error`, and the process goes (the next command starts another). */
	private fail(child: ChildProcessWithoutNullStreams, error: unknown): void {
		// An old process ending after a new one took over concerns none of the new one's commands.
		if (this.child !== null && this.child !== child) return;
		this.close();
		for (const waiting of this.waiting.splice(0)) {
			if (waiting.timer) clearTimeout(waiting.timer);
			waiting.reject(error);
		}
	}

	/** Whether Node may exit while this process runs: only while no command waits on it. */
	private hold(child: ChildProcessWithoutNullStreams): void {
		const busy = this.waiting.length > 0;
		if (this.idleTimer) clearTimeout(this.idleTimer);
		this.idleTimer = busy
			? null
			: setTimeout(() => {
					if (this.child === child && this.waiting.length === 0) this.close();
				}, IDLE_CLOSE_MS).unref();
		for (const handle of [child, child.stdin, child.stdout, child.stderr] as Array<{ref(): void; unref(): void}>) {
			if (busy) handle.ref();
			else handle.unref();
		}
	}

	/** Hands the first waiting command its answer once both of virsh's streams have passed its markers; then the next. */
	private settle(): void {
		for (let waiting = this.waiting[0]; waiting; waiting = this.waiting[0]) {
			const begin = this.stdout.indexOf(`${waiting.token}-begin`);
			const done = `${waiting.token}-done`;
			const end = begin < 0 ? -1 : this.stdout.indexOf(done, begin);
			const errorMarker = `error: ${done}\n`;
			const endErr = this.stderr.indexOf(errorMarker);
			if (end < 0 || endErr < 0) return;
			// Between the markers: the prompt and the typed line as virsh's line editor shows it (one
			// line, cut or not), the output, then the prompt and the typed `echo` of the done marker.
			const between = this.stdout.slice(begin + waiting.token.length + '-begin'.length, end);
			const afterTyped = between.indexOf('\n');
			let stdout = afterTyped < 0 ? '' : between.slice(afterTyped + 1);
			const lastPrompt = stdout.lastIndexOf('virsh # ');
			if (lastPrompt >= 0) stdout = stdout.slice(0, lastPrompt);
			this.stdout = this.stdout.slice(end + done.length);
			// Interactive virsh ends each answer with an empty line; a process of its own does not, and its
			// final newline is dropped as execa drops it: the same text either way.
			if (stdout.endsWith('\n')) stdout = stdout.slice(0, -1);
			if (stdout.endsWith('\n')) stdout = stdout.slice(0, -1);
			const stderr = this.stderr.slice(0, endErr);
			this.stderr = this.stderr.slice(endErr + errorMarker.length);
			this.waiting.shift();
			if (waiting.timer) clearTimeout(waiting.timer);
			if (this.child) this.hold(this.child);
			if (/^error: /m.test(stderr))
				waiting.reject(new CommandFailed('virsh', waiting.args, 1, lastWords(stderr), stdout));
			else waiting.resolve({stdout, stderr});
		}
	}
}
