import {access, readFile} from 'node:fs/promises';

export const fileExists = (file: string) => access(file).then(() => true, () => false);

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
