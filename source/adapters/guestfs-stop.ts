import {readdir, readFile, readlink, rm} from 'node:fs/promises';
import path from 'node:path';
import type {ResultPromise} from 'execa';
import {signalProcess} from './process-group.js';

/**
 * Stopping guestfish without leaving anything behind. Ended by its `exit` command, or by the end
 * of its input, guestfish closes its handle and libguestfs removes its socket folder
 * (/tmp/libguestfsXXXXXX, outside the scratch folder: a socket's path must be short); killed by a
 * signal it leaves the folder there, forever. So guestfish is asked to exit, and given time to.
 * A command in flight (a boot, a long read, one that never answers) is made to end by stopping
 * the appliance (its qemu): the command fails and guestfish exits as asked. A signal to guestfish
 * itself comes last, and then the socket folder it left is removed.
 */

/** How long guestfish is given to exit after `exit`, and again after its appliance was stopped. */
export const GUESTFISH_GRACE_MS = 10_000;

/** The processes whose parent is `pid`, each with its command line. */
async function childrenOf(pid: number): Promise<Array<{pid: number; cmdline: string}>> {
	const children: Array<{pid: number; cmdline: string}> = [];
	for (const entry of await readdir('/proc').catch(() => [] as string[])) {
		if (!/^\d+$/.test(entry)) continue;
		const stat = await readFile(`/proc/${entry}/stat`, 'utf8').catch(() => '');
		// The fields after the command name's last ')': state, then the parent's id.
		if (Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) !== pid) continue;
		const cmdline = await readFile(`/proc/${entry}/cmdline`, 'utf8').catch(() => '');
		children.push({pid: Number(entry), cmdline: cmdline.replaceAll('\0', ' ')});
	}
	return children;
}

const SOCKET_FOLDER = /^(\/\S*\/libguestfs[A-Za-z0-9]{6})\/[^/\s]+\.sock$/;

/**
 * The socket folders of guestfish `pid`: the paths of the unix sockets it holds (/proc/net/unix),
 * and those its appliance's command line names.
 */
export async function socketFoldersOf(pid: number): Promise<string[]> {
	const folders = new Set<string>();
	const fds = await readdir(`/proc/${pid}/fd`).catch(() => [] as string[]);
	const links = await Promise.all(fds.map(fd => readlink(`/proc/${pid}/fd/${fd}`).catch(() => '')));
	const inodes = new Set(links.flatMap(link => /^socket:\[(\d+)\]$/.exec(link)?.[1] ?? []));
	for (const line of (await readFile('/proc/net/unix', 'utf8').catch(() => '')).split('\n')) {
		const fields = line.trim().split(/\s+/);
		const found = SOCKET_FOLDER.exec(fields[7] ?? '');
		if (found && inodes.has(fields[6] ?? '')) folders.add(found[1]!);
	}
	for (const child of await childrenOf(pid))
		for (const match of child.cmdline.matchAll(/path=(\S+?\.sock)/g)) {
			const found = SOCKET_FOLDER.exec(match[1]!);
			if (found) folders.add(found[1]!);
		}
	return [...folders];
}

/** guestfish's appliance: its qemu (not the recovery process libguestfs forks, nor supermin building the appliance). */
async function appliancesOf(pid: number): Promise<number[]> {
	return (await childrenOf(pid))
		.filter(child => /^\S*qemu-system-\S+ /.test(child.cmdline) || /^\S*qemu-kvm /.test(child.cmdline))
		.map(child => child.pid);
}

const endedWithin = (fish: ResultPromise, ms: number) =>
	new Promise<boolean>(resolve => {
		const timer = setTimeout(() => resolve(false), ms);
		void fish.then(() => {
			clearTimeout(timer);
			resolve(true);
		});
	});

/** Stops the appliance now: the command in flight fails, and guestfish goes on to the exit it was given. */
export async function stopAppliance(fish: ResultPromise): Promise<void> {
	if (fish.pid === undefined) return;
	for (const qemu of await appliancesOf(fish.pid)) signalProcess(qemu, 'SIGKILL');
}

/**
 * Ends guestfish as cleanly as it can be ended (see above); `now`: its appliance is stopped at
 * once (a cancel), rather than after the grace time.
 */
export async function stopGuestfish(
	fish: ResultPromise,
	options: {now?: boolean; graceMs?: number} = {},
): Promise<void> {
	const grace = options.graceMs ?? GUESTFISH_GRACE_MS;
	const running = () => fish.exitCode === null && fish.signalCode === null;
	if (!running()) return void (await fish);
	if (fish.stdin && !fish.stdin.writableEnded) fish.stdin.end('exit\n');
	if (options.now) await stopAppliance(fish);
	if (await endedWithin(fish, grace)) return;
	await stopAppliance(fish);
	if (await endedWithin(fish, grace)) return;
	const left = fish.pid === undefined ? [] : await socketFoldersOf(fish.pid);
	fish.kill('SIGKILL');
	await fish;
	for (const folder of left) await rm(path.resolve(folder), {recursive: true, force: true});
}
