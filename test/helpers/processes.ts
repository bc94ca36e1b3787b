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

/** A process's parent, from /proc/PID/stat (the field after the state, past the command name's last ')'). */
async function parentOf(pid: string): Promise<string | undefined> {
	const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => '');
	return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1];
}

/**
 * The guestfish processes that use `dir` (the images in it), as PIDs: not the recovery process
 * libguestfs forks from each (the same command line, a guestfish its parent).
 */
export async function guestfishesUsing(dir: string): Promise<string[]> {
	const pids = (await processesUsing(dir))
		.filter(found => /^\d+: \S*guestfish /.test(found))
		.map(found => found.split(':')[0]!);
	const parents = await Promise.all(pids.map(parentOf));
	return pids.filter((_, index) => !pids.includes(parents[index] ?? ''));
}

/**
 * The socket folders (/tmp/libguestfsXXXXXX) of guestfish `pid`'s appliance, as its qemu's command
 * line names them: libguestfs removes one when guestfish ends cleanly, never when it is killed.
 */
export async function applianceSocketFolders(pid: string): Promise<string[]> {
	const folders = new Set<string>();
	for (const child of (await readdir('/proc')).filter(name => /^\d+$/.test(name))) {
		if ((await parentOf(child)) !== pid) continue;
		const cmdline = (await readFile(`/proc/${child}/cmdline`, 'utf8').catch(() => '')).replaceAll('\0', ' ');
		for (const match of cmdline.matchAll(/path=(\/\S*\/libguestfs[A-Za-z0-9]+)\/[^/\s,]+\.sock/g))
			folders.add(match[1]!);
	}
	return [...folders];
}
