/**
 * Files in a guest's filesystem, as snapdeck shows them and copies them out. A guest filesystem
 * is someone else's data: what it holds is shown in full (every kind of entry), and what is
 * copied out of it is data only (DESIGN.md: GNU tar as a non-root user): regular files, folders
 * and symbolic links, with no owner, no setuid, setgid or sticky bit, and nothing that is not data.
 */

/** What kind of entry it is: the kinds of lstat's st_mode. */
export type GuestEntryType =
	'file' | 'directory' | 'link' | 'char-device' | 'block-device' | 'fifo' | 'socket' | 'unknown';

/** A file, folder or other entry in a guest filesystem. */
export interface GuestEntry {
	/** Its name in its folder read as UTF-8, control characters included (a byte that is not UTF-8 reads as U+FFFD). */
	readonly name: string;
	/** Its name exactly, escaped (core/guest-names.ts): one printable line, what PATH and --extract take. */
	readonly escapedName: string;
	readonly type: GuestEntryType;
	/** As `ls -l` shows it: `-rwsr-xr-x`, `crw-rw-rw-`. */
	readonly mode: string;
	readonly size: number;
	/** The guest's numeric owner and group. */
	readonly uid: number;
	readonly gid: number;
	/** Where a symbolic link points (never followed), read as UTF-8; exactly, escaped, in escapedTarget. */
	readonly target?: string;
	readonly escapedTarget?: string;
	/** A device node's major and minor numbers, as `1,1`. */
	readonly device?: string;
}

const S_IFMT = 0o170000;
const TYPES: Readonly<Record<number, {type: GuestEntryType; letter: string}>> = {
	0o100000: {type: 'file', letter: '-'},
	0o040000: {type: 'directory', letter: 'd'},
	0o120000: {type: 'link', letter: 'l'},
	0o020000: {type: 'char-device', letter: 'c'},
	0o060000: {type: 'block-device', letter: 'b'},
	0o010000: {type: 'fifo', letter: 'p'},
	0o140000: {type: 'socket', letter: 's'},
};

export const entryType = (stMode: number): GuestEntryType => TYPES[stMode & S_IFMT]?.type ?? 'unknown';

/** st_mode as `ls -l` shows it, setuid, setgid and sticky bits included (s/S, t/T). */
export function modeString(stMode: number): string {
	const bit = (mask: number, letter: string) => (stMode & mask ? letter : '-');
	const special = (execute: number, flag: number, on: string) =>
		stMode & flag ? (stMode & execute ? on : on.toUpperCase()) : bit(execute, 'x');
	return (
		(TYPES[stMode & S_IFMT]?.letter ?? '?') +
		bit(0o400, 'r') +
		bit(0o200, 'w') +
		special(0o100, 0o4000, 's') +
		bit(0o040, 'r') +
		bit(0o020, 'w') +
		special(0o010, 0o2000, 's') +
		bit(0o004, 'r') +
		bit(0o002, 'w') +
		special(0o001, 0o1000, 't')
	);
}

/** Linux's st_rdev as `major,minor` (glibc's gnu_dev_major/minor). */
export function deviceNumbers(rdev: number): string {
	const value = BigInt(Math.max(0, Math.trunc(rdev)));
	const major = ((value >> 8n) & 0xfffn) | ((value >> 32n) & ~0xfffn);
	const minor = (value & 0xffn) | ((value >> 12n) & ~0xffn);
	return `${major},${minor}`;
}

const SPECIAL = 0o7000;
const GROUP_OTHER_WRITE = 0o022;

/**
 * The mode a copy gets: the guest's permission bits, no wider, without setuid, setgid or sticky;
 * and where one of those is dropped, without write for group and others too: a world-writable
 * sticky folder (/tmp) loses the rule that only an owner removes a file, and a group-writable
 * setgid one its group; what is left must not be more open than what the guest had.
 */
export const dataMode = (mode: number) => (mode & SPECIAL ? mode & 0o777 & ~GROUP_OTHER_WRITE : mode & 0o777);

/** The bits a copy leaves out, in words (empty when there are none). */
export function droppedBits(mode: number): string[] {
	const special = [
		[0o4000, 'setuid'],
		[0o2000, 'setgid'],
		[0o1000, 'sticky'],
	].flatMap(([mask, name]) => (mode & (mask as number) ? [name as string] : []));
	return special.length > 0 && mode & GROUP_OTHER_WRITE ? [...special, 'group and other write'] : special;
}

/**
 * An archive member's name as the parts of a path inside the folder it is extracted into, or
 * null where it would land outside (a `..` part); `[]` is the folder itself. A leading `/` or
 * `./` is dropped, as tar does.
 */
export function confinedParts(name: string): string[] | null {
	const parts = name.split('/').filter(part => part !== '' && part !== '.');
	return parts.includes('..') ? null : parts;
}

/** Something extraction did not copy, and why. */
export interface SkippedEntry {
	/** Its path inside what was extracted (`.` for the extracted entry itself). */
	readonly path: string;
	readonly type: GuestEntryType | 'hard-link' | 'unknown';
	readonly reason: string;
}

/** What an extraction copied, what it left out, and what it changed on the way. */
export interface ExtractSummary {
	readonly files: number;
	readonly directories: number;
	readonly links: number;
	/** Bytes of file data written. */
	readonly bytes: number;
	readonly skipped: readonly SkippedEntry[];
	/** Setuid, setgid and sticky bits that were not copied, one line each. */
	readonly dropped: readonly string[];
}

/** Why a kind of entry is not copied. */
export const NOT_DATA: Readonly<Partial<Record<SkippedEntry['type'], string>>> = {
	'char-device': 'a device node: extraction copies data, never devices',
	'block-device': 'a device node: extraction copies data, never devices',
	fifo: 'a FIFO: extraction copies data only',
	socket: 'a socket: extraction copies data only',
	unknown: 'not a file, folder or link',
};
