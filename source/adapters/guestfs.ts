import {randomBytes} from 'node:crypto';
import {constants, existsSync, open as openFd, readdirSync} from 'node:fs';
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

export type {GuestEntry};

/** A filesystem libguestfs found on the images: its device (or LVM volume) and type. */
export interface GuestFilesystem {
	readonly device: string;
	readonly type: string;
}

/** What `lstatns` says of one entry (the fields snapdeck uses). */
export interface GuestStat {
	readonly mode: number;
	readonly size: number;
	readonly uid: number;
	readonly gid: number;
	readonly rdev: number;
	readonly mtime: number;
}

/**
 * The environment libguestfs needs here: its direct backend (no libvirtd involved); software
 * emulation under kvm-pvm, where a stock kernel hangs (LAB.md); and, on a machine without a kernel
 * in /boot (a container), the one scripts/setup.sh unpacked into /var/lib/snapdeck. `scratch`:
 * guestfish's HOME (it writes its history file, .guestfish, there even when not interactive) and
 * libguestfs's temporary files, so nothing lands in the user's home.
 */
export function guestfsEnv(scratch?: string): Record<string, string> {
	const env: Record<string, string> = {LIBGUESTFS_BACKEND: 'direct'};
	if (existsSync('/sys/module/kvm_pvm')) env['LIBGUESTFS_BACKEND_SETTINGS'] = 'force_tcg';
	const inBoot = existsSync('/boot') && readdirSync('/boot').some(name => name.startsWith('vmlinuz-'));
	const spare = existsSync('/var/lib/snapdeck')
		? readdirSync('/var/lib/snapdeck').find(name => name.startsWith('vmlinuz-'))
		: undefined;
	if (!inBoot && spare && !process.env['SUPERMIN_KERNEL']) {
		env['SUPERMIN_KERNEL'] = `/var/lib/snapdeck/${spare}`;
		env['SUPERMIN_MODULES'] = `/lib/modules/${spare.slice('vmlinuz-'.length)}`;
	}
	if (scratch !== undefined) {
		env['HOME'] = scratch;
		env['LIBGUESTFS_TMPDIR'] = scratch;
		// The appliance is cached where it always is (built once, ~20 s): not in the scratch folder.
		env['LIBGUESTFS_CACHEDIR'] = process.env['LIBGUESTFS_CACHEDIR'] ?? process.env['TMPDIR'] ?? '/var/tmp';
	}
	return env;
}

/**
 * A guestfish word: double-quoted, every byte that is not printable ASCII (a newline in a name,
 * an escape sequence, UTF-8) written as \xHH, which guestfish turns back into that byte.
 */
export function word(text: string | Uint8Array): string {
	const bytes = typeof text === 'string' ? Buffer.from(text, 'utf8') : Buffer.from(text);
	if (bytes.includes(0))
		throw new SnapdeckError(
			'input',
			`a name with a NUL byte cannot be in a guest filesystem: ${JSON.stringify(bytes.toString('utf8'))}`,
		);
	let quoted = '"';
	for (const byte of bytes) {
		quoted +=
			byte >= 0x20 && byte < 0x7f && byte !== 0x22 && byte !== 0x5c
				? String.fromCharCode(byte)
				: `\\x${byte.toString(16).padStart(2, '0')}`;
	}
	return `${quoted}"`;
}

/**
 * The longest line snapdeck sends guestfish, in bytes. guestfish reads a script a line at a time
 * into an 8192-byte buffer (fish.c, rl_gets): a longer line is cut there, and the rest runs as a
 * command of its own, in which a leading '!' is a host shell command and '-' ignores errors. A
 * guest's name, quoted by word(), could put either at the cut.
 */
export const MAX_COMMAND_BYTES = 8000;

/**
 * One command as the line guestfish reads, checked: it must be one whole guestfish command
 * (a command name first, never '!', '-', '#' or a blank; no control character, so no line
 * break inside) and fit guestfish's buffer. Every line snapdeck sends passes here.
 */
export function commandLine(command: string): string {
	const verb = command.split(' ', 1)[0]!;
	if (!/^[a-z][a-z0-9-]*$/.test(verb))
		throw new SnapdeckError(
			'failed',
			`internal: ${JSON.stringify(command.slice(0, 40))} is not a guestfish command (a line must begin with a command's name)`,
		);
	if (/[\u0000-\u001f\u007f]/.test(command))
		throw new SnapdeckError(
			'failed',
			`internal: guestfish's ${verb} was given a control character unquoted: it is not sent`,
		);
	const bytes = Buffer.byteLength(command, 'utf8') + 1;
	if (bytes > MAX_COMMAND_BYTES) {
		throw new SnapdeckError(
			'refused',
			`a path too long for guestfish: its ${verb} command would be ${bytes} bytes, and guestfish reads ${MAX_COMMAND_BYTES} at most as one command (it would run the rest as another); nothing was sent`,
			'list or extract a folder nearer to it',
		);
	}
	return `${command}\n`;
}

/** One `lstatns` report: `st_NAME: VALUE` lines. */
function parseStat(text: string, what: string): GuestStat {
	const fields = new Map([...text.matchAll(/^\s*(st_\w+): (-?\d+)$/gm)].map(match => [match[1]!, Number(match[2])]));
	const field = (name: string) => {
		const value = fields.get(name);
		if (value === undefined)
			throw new SnapdeckError(
				'failed',
				`guestfish's lstatns of ${what} has no ${name}: ${JSON.stringify(text.slice(0, 200))}`,
			);
		return value;
	};
	return {
		mode: field('st_mode'),
		size: field('st_size'),
		uid: field('st_uid'),
		gid: field('st_gid'),
		rdev: field('st_rdev'),
		mtime: field('st_mtime_sec'),
	};
}

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
