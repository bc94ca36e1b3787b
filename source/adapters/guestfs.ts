import {randomBytes} from 'node:crypto';
import {constants, open as openFd} from 'node:fs';
import {readFile, rm} from 'node:fs/promises';
import {Socket} from 'node:net';
import path from 'node:path';
import type {Readable} from 'node:stream';
import {promisify} from 'node:util';
import type {ResultPromise} from 'execa';
import {errorMessage, SnapdeckError} from '../core/errors.js';
import {deviceNumbers, entryType, modeString, type GuestEntry} from '../core/guest-files.js';
import {escapeName} from '../core/guest-names.js';
import {formatWait} from '../core/units.js';
import {loadExeca, toolPath} from './exec.js';
import {makeGuestfsScratch} from './guestfs-scratch.js';
import {stopGuestfish} from './guestfs-stop.js';
import {commandLine, guestfsEnv, parseStat, word, type GuestFilesystem, type GuestStat} from './guestfs-commands.js';

export type {GuestEntry};

export {
	commandLine,
	guestfsEnv,
	MAX_COMMAND_BYTES,
	word,
	type GuestFilesystem,
	type GuestStat,
} from './guestfs-commands.js';

/** Joins a guest folder and a name (bytes kept as they are). */
const inFolder = (folder: Uint8Array, name: Uint8Array) => {
	let end = folder.length;
	while (end > 0 && folder[end - 1] === 0x2f) end--;
	return Buffer.concat([folder.subarray(0, end), Buffer.from('/'), name]);
};

/**
 * One libguestfs appliance over a point's images, read-only (`guestfish --ro`: nothing is ever
 * written to them), driven a command at a time through guestfish's stdin, so one boot of the
 * appliance serves the whole operation. Its HOME and temporary files are in a private scratch
 * folder: the caller's (inside a job's work folder), or one of its own that close() removes.
 */
export class Guestfs {
	private out = '';
	private err = '';
	private next = 0;
	private fifos = 0;
	/** Unguessable: a guest's file name or link target cannot fake the end of a reply. */
	private readonly tag = randomBytes(6).toString('hex');
	/**
	 * Why guestfish takes no more commands, once it does not: a command failed or timed out (its
	 * answer, or the rest of it, may still come, and would be read as the next command's), or it
	 * was closed.
	 */
	private spent: string | null = null;
	/** The batch before the next: batches go to guestfish one at a time, each read whole before the next is sent. */
	private turn: Promise<unknown> = Promise.resolve();

	private constructor(
		private readonly fish: ResultPromise,
		readonly scratch: string,
		private readonly ownScratch: boolean,
		/** How long guestfish is given to exit (guestfs-stop.ts). */
		private readonly graceMs?: number,
	) {
		// One character a byte: a guest's bytes in a reply (a link's target) are kept as they are.
		fish.stdout!.setEncoding('latin1');
		fish.stderr!.setEncoding('utf8');
		fish.stdout!.on('data', (chunk: string) => (this.out += chunk));
		fish.stderr!.on('data', (chunk: string) => (this.err += chunk));
	}

	/** Starts the appliance over `images` (qcow2, in disk order: /dev/sda, /dev/sdb...). */
	static async open(
		images: readonly string[],
		options: {signal?: AbortSignal; scratch?: string; graceMs?: number} = {},
	): Promise<Guestfs> {
		const {execa} = await loadExeca();
		const scratch = options.scratch ?? (await makeGuestfsScratch());
		const args = ['--ro', '--format=qcow2', ...images.flatMap(image => ['-a', image])];
		if (options.signal?.aborted) {
			if (options.scratch === undefined) await rm(scratch, {recursive: true, force: true});
			throw new SnapdeckError('failed', 'cancelled before libguestfs started', undefined, 'cancelled');
		}
		// No parent-death signal, nor a signal on cancel: killed by one, guestfish leaves its socket folder
		// in /tmp (guestfs-stop.ts). When snapdeck dies, its stdin closes and it ends cleanly, its appliance
		// with it; one blocked opening a FIFO is let go by the removal of the work folder the FIFO is in
		// (adapters/state/work-folder.ts).
		const fish = execa(toolPath('guestfish'), args, {
			env: guestfsEnv(scratch),
			stdin: 'pipe',
			reject: false,
			// Nor when snapdeck exits (execa would signal it): its input ends, and it exits by itself.
			cleanup: false,
		});
		const guestfs = new Guestfs(fish, scratch, options.scratch === undefined, options.graceMs);
		// A cancel stops the appliance: the command in flight fails, and guestfish exits by itself.
		const onAbort = () => void guestfs.stop(true);
		options.signal?.addEventListener('abort', onAbort, {once: true});
		void fish.finally(() => options.signal?.removeEventListener('abort', onAbort));
		void fish.then(result => {
			if ((result as {code?: string}).code === 'ENOENT') guestfs.err += 'guestfish is not installed';
		});
		try {
			await guestfs.run('run', 600_000);
		} catch (error) {
			await guestfs.close();
			// A cancel stops guestfish, and its start fails for it: that is the cancel, not guestfish failing.
			if (options.signal?.aborted)
				throw new SnapdeckError('failed', 'cancelled while libguestfs started', undefined, 'cancelled');
			throw error;
		}
		return guestfs;
	}

	/** Whether guestfish, and its appliance with it, still runs. */
	get running(): boolean {
		return this.fish.exitCode === null && this.fish.signalCode === null;
	}

	/** Whether guestfish takes commands: it runs, and no command of it failed or timed out (then it is spent). */
	get usable(): boolean {
		return this.spent === null && this.running;
	}

	/** Runs one guestfish command; its output, or its error as a SnapdeckError. */
	async run(command: string, timeoutMs = 120_000): Promise<string> {
		return (await this.runAll([command], timeoutMs))[0]!;
	}

	/**
	 * Runs commands in one round trip: the output of each, or the first error as a SnapdeckError.
	 * Batches run one after another. After a command that failed or timed out, guestfish takes no
	 * more: each later batch is refused (the caller opens the images again).
	 */
	async runAll(commands: readonly string[], timeoutMs = 120_000): Promise<string[]> {
		if (commands.length === 0) return [];
		// Every line checked before any is sent: a batch runs whole or not at all.
		const lines = commands.map(command => commandLine(command));
		const first = this.next;
		this.next += commands.length;
		const mine = this.turn.then(() => this.exchange(commands, lines, first, timeoutMs));
		this.turn = mine.catch(() => undefined);
		return mine;
	}

	/** Sends one batch and reads its answers; any failure spends the session. */
	private async exchange(
		commands: readonly string[],
		lines: readonly string[],
		first: number,
		timeoutMs: number,
	): Promise<string[]> {
		if (this.spent !== null)
			throw new SnapdeckError('failed', `guestfish takes no more commands: ${this.spent}`, 'open the point again');
		try {
			return await this.answers(commands, lines, first, timeoutMs);
		} catch (error) {
			this.spent ??= `an earlier command failed (${errorMessage(error)})`;
			throw error;
		}
	}

	private async answers(
		commands: readonly string[],
		lines: readonly string[],
		first: number,
		timeoutMs: number,
	): Promise<string[]> {
		const marker = (index: number) => `@@snapdeck-${this.tag}-${first + index}@@\n`;
		const start = this.out.length;
		const errStart = this.err.length;
		this.fish.stdin!.write(
			lines.map((line, index) => `${line}${commandLine(`echo ${marker(index).trim()}`)}`).join(''),
		);
		const deadline = Date.now() + timeoutMs;
		for (;;) {
			const failed = this.err.slice(errStart).match(/libguestfs: error: (.*)/);
			if (failed)
				throw new SnapdeckError(
					'failed',
					`libguestfs: ${failed[1]}`,
					/supermin|kernel|appliance/.test(failed[1]!)
						? 'libguestfs cannot build its appliance: install a kernel (linux-image-amd64), or run scripts/setup.sh'
						: undefined,
				);
			if (this.out.indexOf(marker(commands.length - 1), start) >= 0) break;
			if (this.fish.exitCode !== null || this.fish.signalCode !== null) {
				const missing = /not installed|ENOENT/.test(this.err);
				throw new SnapdeckError(
					missing ? 'tool' : 'failed',
					`guestfish stopped: ${this.err.trim().split('\n').slice(-3).join('; ') || 'no reason given'}`,
					missing ? 'install it: apt-get install libguestfs-tools' : undefined,
				);
			}
			if (Date.now() > deadline)
				throw new SnapdeckError(
					'failed',
					`guestfish did not finish '${commands[0]!.split(' ')[0]}' within ${formatWait(timeoutMs)}`,
				);
			await new Promise(resolve => setTimeout(resolve, 20));
		}
		const outputs: string[] = [];
		let at = start;
		for (let index = 0; index < commands.length; index++) {
			const end = this.out.indexOf(marker(index), at);
			outputs.push(this.out.slice(at, end));
			at = end + marker(index).length;
		}
		return outputs;
	}

	/** The filesystems on the images (partitions, LVM volumes, whole disks); swap and unknown left out. */
	async filesystems(): Promise<GuestFilesystem[]> {
		return (await this.run('list-filesystems'))
			.split('\n')
			.map(line => line.match(/^(\S+): (\S+)$/))
			.filter(match => match !== null)
			.map(match => ({device: match[1]!, type: match[2]!}))
			.filter(fs => fs.type !== 'unknown' && fs.type !== 'swap');
	}

	async mount(device: string): Promise<void> {
		await this.run(`mount-ro ${word(device)} /`);
	}

	/** lstat of one path in the guest (a link is not followed). */
	async stat(file: string | Uint8Array): Promise<GuestStat> {
		return parseStat(await this.run(`lstatns ${word(file)}`), escapeName(Buffer.from(file)));
	}

	/** Each path's lstat, in one round trip. */
	async statAll(files: readonly Uint8Array[]): Promise<GuestStat[]> {
		const outputs = await this.runAll(files.map(file => `lstatns ${word(file)}`));
		return outputs.map((output, index) => parseStat(output, escapeName(files[index]!)));
	}

	/** Where each symbolic link points, in one round trip (each target's bytes exactly, line breaks included). */
	async readlinkAll(links: readonly Uint8Array[]): Promise<Buffer[]> {
		return (await this.runAll(links.map(link => `readlink ${word(link)}`))).map(output =>
			Buffer.from(output.replace(/\n$/, ''), 'latin1'),
		);
	}

	/** The names in a folder, each exactly as it is (`ls0`: NUL-separated, into a file of the scratch folder). */
	async names(folder: Uint8Array): Promise<Buffer[]> {
		const file = path.join(this.scratch, `ls0-${this.next}`);
		await this.run(`ls0 ${word(folder)} ${word(file)}`);
		const data = await readFile(file);
		await rm(file, {force: true});
		return splitNul(data);
	}

	/** Every path under a folder, relative to it (`find0`), each exactly as it is. */
	async find(folder: Uint8Array): Promise<Buffer[]> {
		const file = path.join(this.scratch, `find0-${this.next}`);
		await this.run(`find0 ${word(folder)} ${word(file)}`, 3_600_000);
		const data = await readFile(file);
		await rm(file, {force: true});
		return splitNul(data);
	}

	/**
	 * Every entry of a folder (`.` and `..` left out), or the one entry of a path that is not a
	 * folder: all kinds (devices, FIFOs, sockets and links with their targets), every name as it is.
	 */
	async list(folder: Uint8Array): Promise<GuestEntry[]> {
		const self = await this.stat(folder);
		if (entryType(self.mode) !== 'directory')
			return this.entries([Buffer.from(folder).subarray(folder.lastIndexOf(0x2f) + 1)], [self], [Buffer.from(folder)]);
		const names = await this.names(folder);
		const paths = names.map(name => inFolder(folder, name));
		const stats: GuestStat[] = [];
		// A few thousand a round trip: each reply stays small.
		for (let at = 0; at < paths.length; at += 2000) stats.push(...(await this.statAll(paths.slice(at, at + 2000))));
		return this.entries(names, stats, paths);
	}

	private async entries(
		names: readonly Buffer[],
		stats: readonly GuestStat[],
		paths: readonly Buffer[],
	): Promise<GuestEntry[]> {
		const linkAt = stats.flatMap((stat, index) => (entryType(stat.mode) === 'link' ? [index] : []));
		const targets = new Map<number, Buffer>();
		for (let at = 0; at < linkAt.length; at += 2000) {
			const some = linkAt.slice(at, at + 2000);
			(await this.readlinkAll(some.map(index => paths[index]!))).forEach((target, offset) =>
				targets.set(some[offset]!, target),
			);
		}
		return names.map((name, index) => {
			const stat = stats[index]!;
			const type = entryType(stat.mode);
			const target = targets.get(index);
			return {
				name: name.toString('utf8'),
				escapedName: escapeName(name),
				type,
				mode: modeString(stat.mode),
				size: stat.size,
				uid: stat.uid,
				gid: stat.gid,
				...(target === undefined ? {} : {target: target.toString('utf8'), escapedTarget: escapeName(target)}),
				...(type === 'char-device' || type === 'block-device' ? {device: deviceNumbers(stat.rdev)} : {}),
			};
		});
	}

	/**
	 * A folder as a tar stream (`tar-out`, owners as numbers), or a file's bytes (`download`), read
	 * through a FIFO in the scratch folder as guestfish writes it: nothing is staged on disk.
	 * `done` settles when guestfish has finished (or failed).
	 */
	async stream(kind: 'tar' | 'file', from: Uint8Array): Promise<{data: Readable; done: Promise<void>}> {
		const fifo = path.join(this.scratch, `stream-${this.fifos++}`);
		const {execa} = await loadExeca();
		await execa('mkfifo', ['-m', '600', '--', fifo]);
		// Opened before guestfish opens it for writing, non-blocking: guestfish never waits for a reader.
		const fd = await promisify(openFd)(fifo, constants.O_RDONLY | constants.O_NONBLOCK);
		const data = new Socket({fd, readable: true, writable: false});
		const command =
			kind === 'tar' ? `tar-out ${word(from)} ${word(fifo)} numericowner:true` : `download ${word(from)} ${word(fifo)}`;
		const done = this.run(command, 24 * 3_600_000).then(
			() => undefined,
			(error: unknown) => {
				data.destroy();
				throw error;
			},
		);
		return {data, done};
	}

	/** Ends guestfish (guestfs-stop.ts): no command is taken after; `now`, its appliance is stopped at once. */
	private async stop(now = false): Promise<void> {
		this.spent ??= 'it was closed';
		await stopGuestfish(this.fish, {now, ...(this.graceMs === undefined ? {} : {graceMs: this.graceMs})});
	}

	/** Ends guestfish cleanly (its socket folder with it) and removes a scratch folder of its own. */
	async close(): Promise<void> {
		await this.stop();
		if (this.ownScratch) await rm(this.scratch, {recursive: true, force: true});
	}
}

const splitNul = (data: Buffer): Buffer[] => {
	const parts: Buffer[] = [];
	for (let at = 0; at < data.length;) {
		const end = data.indexOf(0, at);
		parts.push(data.subarray(at, end < 0 ? data.length : end));
		at = end < 0 ? data.length : end + 1;
	}
	return parts;
};
