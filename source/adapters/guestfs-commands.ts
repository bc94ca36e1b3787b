import {existsSync, readdirSync} from 'node:fs';
import {SnapdeckError} from '../core/errors.js';

/**
 * What is said to guestfish and read back from it, each checked: its environment, a quoted word,
 * one command line, an lstatns report. The session that sends them is guestfs.ts.
 */

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
export function parseStat(text: string, what: string): GuestStat {
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
