import {existsSync, readdirSync} from 'node:fs';
import type {ResultPromise} from 'execa';
import {SnapdeckError} from '../core/errors.js';
import {loadExeca, toolPath} from './exec.js';

/** A file or folder in a guest filesystem, as `ll` (ls -la) shows it. */
export interface GuestEntry {
	readonly name: string;
	readonly type: 'file' | 'directory' | 'link' | 'other';
	readonly mode: string;
	readonly size: number;
	/** Where a symbolic link points. */
	readonly target?: string;
}

/** A filesystem libguestfs found on the images: its device (or LVM volume) and type. */
export interface GuestFilesystem {
	readonly device: string;
	readonly type: string;
}

/**
 * The environment libguestfs needs here: its direct backend (no libvirtd involved); software
 * emulation under kvm-pvm, where a stock kernel hangs (LAB.md); and, on a machine without a kernel
 * in /boot (a container), the one scripts/setup.sh unpacked into /var/lib/snapdeck.
 */
export function guestfsEnv(): Record<string, string> {
	const env: Record<string, string> = {LIBGUESTFS_BACKEND: 'direct'};
	if (existsSync('/sys/module/kvm_pvm')) env['LIBGUESTFS_BACKEND_SETTINGS'] = 'force_tcg';
	const inBoot = existsSync('/boot') && readdirSync('/boot').some(name => name.startsWith('vmlinuz-'));
	const spare = existsSync('/var/lib/snapdeck') ? readdirSync('/var/lib/snapdeck').find(name => name.startsWith('vmlinuz-')) : undefined;
	if (!inBoot && spare && !process.env['SUPERMIN_KERNEL']) {
		env['SUPERMIN_KERNEL'] = `/var/lib/snapdeck/${spare}`;
		env['SUPERMIN_MODULES'] = `/lib/modules/${spare.slice('vmlinuz-'.length)}`;
	}
	return env;
}

/** A guestfish word: quoted, with its backslashes and quotes escaped; no newline can be in it. */
function word(text: string): string {
	if (/[\n\r\0]/.test(text)) throw new SnapdeckError('input', `a path with a line break or NUL cannot be read from a guest: ${JSON.stringify(text)}`);
	return `"${text.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
}

/**
 * One libguestfs appliance over a point's images, read-only (`guestfish --ro`: nothing is ever
 * written to them), driven a command at a time through guestfish's stdin, so one boot of the
 * appliance serves the whole operation.
 */
export class Guestfs {
	private out = '';
	private err = '';
	private next = 0;

	private constructor(private readonly fish: ResultPromise) {
		fish.stdout!.setEncoding('utf8');
		fish.stderr!.setEncoding('utf8');
		fish.stdout!.on('data', (chunk: string) => (this.out += chunk));
		fish.stderr!.on('data', (chunk: string) => (this.err += chunk));
	}

	/** Starts the appliance over `images` (qcow2, in disk order: /dev/sda, /dev/sdb...). */
	static async open(images: readonly string[], signal?: AbortSignal): Promise<Guestfs> {
		let fish: ResultPromise;
		const {execa} = await loadExeca();
		try {
			fish = execa(toolPath('guestfish'), ['--ro', '--format=qcow2', ...images.flatMap(image => ['-a', image])], {env: guestfsEnv(), stdin: 'pipe', reject: false, cancelSignal: signal, cleanup: true});
		} catch {
			throw new SnapdeckError('tool', 'guestfish is not installed', 'install it: apt-get install libguestfs-tools');
		}
		const guestfs = new Guestfs(fish);
		void fish.then(result => {
			if ((result as {code?: string}).code === 'ENOENT' || /ENOENT/.test(String((result as {message?: string}).message ?? ''))) guestfs.err += 'guestfish is not installed';
		});
		await guestfs.run('run', 600_000);
		return guestfs;
	}

	/** Runs one guestfish command; its output, or its error as a SnapdeckError. */
	async run(command: string, timeoutMs = 120_000): Promise<string> {
		const marker = `@@snapdeck-${this.next++}@@`;
		const start = this.out.length;
		const errStart = this.err.length;
		this.fish.stdin!.write(`${command}\necho ${marker}\n`);
		const deadline = Date.now() + timeoutMs;
		for (;;) {
			const at = this.out.indexOf(`${marker}\n`, start);
			const failed = this.err.slice(errStart).match(/libguestfs: error: (.*)/);
			if (failed) throw new SnapdeckError('failed', `libguestfs: ${failed[1]}`, /supermin|kernel|appliance/.test(failed[1]!) ? 'libguestfs cannot build its appliance: install a kernel (linux-image-amd64), or run scripts/setup.sh' : undefined);
			if (at >= 0) return this.out.slice(start, at);
			if (this.fish.exitCode !== null || this.fish.signalCode !== null) {
				throw new SnapdeckError(/not installed|ENOENT/.test(this.err) ? 'tool' : 'failed', `guestfish stopped: ${this.err.trim().split('\n').slice(-3).join('; ') || 'no reason given'}`, /not installed|ENOENT/.test(this.err) ? 'install it: apt-get install libguestfs-tools' : undefined);
			}
			if (Date.now() > deadline) throw new SnapdeckError('failed', `guestfish did not finish '${command.split(' ')[0]}' within ${Math.round(timeoutMs / 1000)} s`);
			await new Promise(resolve => setTimeout(resolve, 20));
		}
	}

	/** The filesystems on the images (partitions, LVM volumes, whole disks); swap and unknown left out. */
	async filesystems(): Promise<GuestFilesystem[]> {
		return (await this.run('list-filesystems')).split('\n').map(line => line.match(/^(\S+): (\S+)$/)).filter(match => match !== null)
			.map(match => ({device: match[1]!, type: match[2]!})).filter(fs => fs.type !== 'unknown' && fs.type !== 'swap');
	}

	async mount(device: string): Promise<void> {
		await this.run(`mount-ro ${word(device)} /`);
	}

	/** A folder's entries (`.` and `..` left out), or the one entry of a file. */
	async list(folder: string): Promise<GuestEntry[]> {
		return (await this.run(`ll ${word(folder)}`)).split('\n').map(parseLl).filter((entry): entry is GuestEntry => entry !== null && entry.name !== '.' && entry.name !== '..');
	}

	/** Copies a file or a folder (recursively) out into the host folder `into`. */
	async copyOut(file: string, into: string): Promise<void> {
		await this.run(`copy-out ${word(file)} ${word(into)}`, 3_600_000);
	}

	async close(): Promise<void> {
		this.fish.stdin!.end('exit\n');
		const gone = await Promise.race([this.fish.then(() => true), new Promise(resolve => setTimeout(() => resolve(false), 10_000))]);
		if (!gone) this.fish.kill('SIGKILL');
		await this.fish;
	}
}

/** One line of `ll` (ls -la): mode, links, owner, group, size, date (3 words), name[ -> target]. */
function parseLl(line: string): GuestEntry | null {
	const match = line.match(/^([-dlcbps])([-rwxsStT]{9})\S*\s+\d+\s+\S+\s+\S+\s+(\d+)\s+\S+\s+\S+\s+\S+\s(.+)$/);
	if (!match) return null;
	const [, kind, mode, size, rest] = match;
	const type = kind === 'd' ? 'directory' : kind === '-' ? 'file' : kind === 'l' ? 'link' : 'other';
	const [name, target] = type === 'link' ? rest!.split(' -> ') : [rest!, undefined];
	return {name: name!, type, mode: `${kind}${mode}`, size: Number(size), ...(target === undefined ? {} : {target})};
}
