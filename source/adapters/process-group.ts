import {readdir, readFile} from 'node:fs/promises';

/**
 * A child that starts helpers of its own (restic starts ssh for sftp: and rclone for rclone:
 * targets) is started in a session of its own, so that it and they form one process group that
 * is ended as one: signalling restic alone leaves its ssh behind (seen with restic 0.14: after
 * SIGINT restic exits, and its ssh waits on a silent peer forever). In its own session it has no
 * terminal either, so restic never hands the terminal to ssh for a prompt.
 */

/** The groups of children still running: ended when snapdeck exits (execa's own cleanup skips detached children). */
const live = new Set<number>();
let hooked = false;

/** Sends `signal` to every process of a group; a group that is gone is not an error. */
export function signalGroup(group: number, signal: NodeJS.Signals): void {
	try {
		process.kill(-group, signal);
	} catch {
		// Nothing is left of it.
	}
}

/** Sends `signal` to one process; one that is gone is not an error. */
export function signalProcess(pid: number, signal: NodeJS.Signals): void {
	try {
		process.kill(pid, signal);
	} catch {
		// It has ended.
	}
}

/** Keeps `group` on the list of groups ended when snapdeck exits, until `release`. */
export function holdGroup(group: number): {release: () => void} {
	if (!hooked) {
		hooked = true;
		process.on('exit', () => {
			for (const held of live) signalGroup(held, 'SIGKILL');
		});
	}
	live.add(group);
	return {release: () => void live.delete(group)};
}

/** The members of a process group, from /proc (field 5 of /proc/PID/stat, after the command name). */
async function groupMembers(group: number): Promise<number[]> {
	const members: number[] = [];
	for (const entry of await readdir('/proc').catch(() => [] as string[])) {
		if (!/^\d+$/.test(entry)) continue;
		const stat = await readFile(`/proc/${entry}/stat`, 'utf8').catch(() => '');
		// The command name is in parentheses and may hold spaces: the fields after its last ')' are fixed.
		const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
		if (Number(fields[2]) === group) members.push(Number(entry));
	}
	return members;
}

/**
 * Bytes the group's processes have read and written so far (rchar + wchar of /proc/PID/io: files,
 * pipes and sockets alike): a group whose count stands still is waiting on something.
 */
export async function groupIo(group: number): Promise<number> {
	let total = 0;
	for (const pid of await groupMembers(group)) {
		const io = await readFile(`/proc/${pid}/io`, 'utf8').catch(() => '');
		for (const match of io.matchAll(/^(?:rchar|wchar): (\d+)$/gm)) total += Number(match[1]);
	}
	return total;
}

export interface Watchdog {
	stop(): void;
}

/**
 * Calls `onStall` once the group has moved no bytes for `stallMs`, apart from `ownBytes()` (what
 * it wrote to snapdeck, such as progress lines that keep coming while nothing else moves).
 */
export function watchStall(group: number, stallMs: number, ownBytes: () => number, onStall: () => void): Watchdog {
	let last = -1;
	let since = Date.now();
	let busy = false;
	const timer = setInterval(
		() => {
			if (busy) return;
			busy = true;
			void groupIo(group)
				.then(io => {
					const moved = io - ownBytes();
					if (moved !== last) {
						last = moved;
						since = Date.now();
					} else if (Date.now() - since >= stallMs) {
						clearInterval(timer);
						onStall();
					}
				})
				.finally(() => {
					busy = false;
				});
		},
		Math.max(100, Math.min(5000, Math.floor(stallMs / 4))),
	);
	timer.unref();
	return {stop: () => clearInterval(timer)};
}
