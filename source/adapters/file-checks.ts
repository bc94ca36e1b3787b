import {access, readFile, statfs} from 'node:fs/promises';
import path from 'node:path';

export const fileExists = (file: string) =>
	access(file).then(
		() => true,
		() => false,
	);

/** Whether `file` (absolute, or relative to `dir`) resolves to a place outside `dir`. */
export function liesOutside(dir: string, file: string): boolean {
	const inside = path.relative(dir, path.resolve(dir, file));
	return inside.startsWith('..') || path.isAbsolute(inside);
}

/** Whether an absolute `file` lies outside every one of `dirs`. */
export const liesOutsideAll = (dirs: readonly string[], file: string) => dirs.every(dir => liesOutside(dir, file));

/**
 * Whether a process is still running. One that exited but was not reaped yet (a zombie, common
 * for a daemonized QEMU whose parent is init) counts as gone; where /proc is missing, kill(0) says.
 */
export async function processAlive(pid: number): Promise<boolean> {
	const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => null);
	if (stat !== null) return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
	try {
		process.kill(pid, 0);
		return true;
	} catch (error) {
		return (error as NodeJS.ErrnoException).code === 'EPERM';
	}
}

/** Free bytes on the filesystem that holds `dir`, or would hold it (its nearest existing ancestor). */
export async function freeBytesNear(dir: string): Promise<number> {
	for (let current = path.resolve(dir); ; current = path.dirname(current)) {
		const fs = await statfs(current).catch(() => null);
		if (fs) return fs.bavail * fs.bsize;
		if (current === path.dirname(current)) return 0;
	}
}
