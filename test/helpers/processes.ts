import {readdir, readFile, readlink} from 'node:fs/promises';

/** Every process (but this one) that has `dir`'s files open or names it on its command line, as `PID: COMMAND LINE` (guestfish, its qemu). */
export async function processesUsing(dir: string): Promise<string[]> {
	const found: string[] = [];
	for (const pid of (await readdir('/proc')).filter(name => /^\d+$/.test(name) && Number(name) !== process.pid)) {
		const cmdline = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '');
		const fds = await readdir(`/proc/${pid}/fd`).catch(() => [] as string[]);
		const open = await Promise.all(fds.map(fd => readlink(`/proc/${pid}/fd/${fd}`).catch(() => '')));
		if (cmdline.includes(dir) || open.some(target => target.startsWith(dir)))
			found.push(`${pid}: ${cmdline.replaceAll('\0', ' ').slice(0, 200)}`);
	}
	return found;
}
