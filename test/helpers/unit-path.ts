import {mkdirSync, readdirSync, rmSync, symlinkSync} from 'node:fs';
import path from 'node:path';

/**
 * The tools the unit tier runs without: whatever needs QEMU, libvirt, restic or libguestfs. A test
 * that reaches one of them fails there ("not found") instead of quietly taking real images' time.
 */
export const SYSTEM_TOOL =
	/^(qemu-.*|virsh|libvirtd|virtqemud|virtlogd|virtlockd|restic|rclone|guestfish|guestmount|guestunmount|libguestfs-test-tool|virt-.*)$/;

/**
 * Builds `dir`, one folder of symlinks to every command on `searchPath` except the system tools
 * (the first of a name wins, as on PATH), and returns it: the PATH of the unit tier's workers.
 */
export function strippedPath(dir: string, searchPath = process.env.PATH ?? ''): string {
	rmSync(dir, {recursive: true, force: true});
	mkdirSync(dir, {recursive: true});
	const seen = new Set<string>();
	for (const folder of searchPath.split(path.delimiter)) {
		if (!folder || !path.isAbsolute(folder)) continue;
		let names: string[];
		try {
			names = readdirSync(folder);
		} catch {
			continue;
		}
		for (const name of names) {
			if (SYSTEM_TOOL.test(name) || seen.has(name)) continue;
			seen.add(name);
			symlinkSync(path.join(folder, name), path.join(dir, name));
		}
	}
	return dir;
}
