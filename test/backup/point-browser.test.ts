import {existsSync} from 'node:fs';
import {chmod, writeFile} from 'node:fs/promises';
import path from 'node:path';
import {execa} from 'execa';
import {afterEach, describe, expect, it} from 'vitest';
import {sessionPorts} from '../../source/service/session-ports.js';
import {jsonLines, snapdeck} from '../helpers/cli.js';
import {labWithVm, tempDir} from '../helpers/lab.js';

/**
 * A stand-in for guestfish over a point with one filesystem: its root holds `a` and `b`; a
 * command on /bad fails with a libguestfs error and, unlike guestfish, it goes on reading (a
 * failure must spend the session whether guestfish ends or not).
 */
const FAKE_GUESTFISH = `#!/bin/sh
while IFS= read -r line; do
	case "$line" in
		echo\\ *) printf '%s\\n' "\${line#echo }";;
		list-filesystems) echo '/dev/sda: ext4';;
		*'"/bad"'*) echo 'libguestfs: error: lstatns: /bad: No such file or directory' >&2;;
		'lstatns "/"') printf 'st_mode: 16877\\nst_size: 4096\\nst_uid: 0\\nst_gid: 0\\nst_rdev: 0\\nst_mtime_sec: 0\\n';;
		lstatns\\ *) printf 'st_mode: 33188\\nst_size: 3\\nst_uid: 0\\nst_gid: 0\\nst_rdev: 0\\nst_mtime_sec: 0\\n';;
		ls0\\ *) file="\${line##* }"; file="\${file#\\"}"; file="\${file%\\"}"; printf 'a\\000b\\000' > "$file";;
	esac
done
`;

afterEach(() => {
	delete process.env['SNAPDECK_GUESTFISH'];
});

async function browsing() {
	const lab = await labWithVm('pb1');
	// Bytes that are not one value throughout: something libguestfs could find a filesystem in.
	await execa('qemu-io', ['-f', 'qcow2', '-c', 'write -P 0x22 0 512', await lab.activeFile()]);
	const service = sessionPorts(lab.hypervisor, {repository: await tempDir()});
	const point = await service.backup('pb1', {mode: 'full', command: 'test'});
	const fake = path.join(await tempDir(), 'guestfish');
	await writeFile(fake, FAKE_GUESTFISH);
	await chmod(fake, 0o755);
	process.env['SNAPDECK_GUESTFISH'] = fake;
	return service.browseFiles('pb1', {point: point.id, command: 'test (browsing)'});
}

describe('a point opened for browsing', () => {
	it('reports itself closed after a listing that failed, and lists nothing more through that guestfish', async () => {
		const browser = await browsing();
		try {
			const root = await browser.list('/');
			expect(root.kind === 'entries' && root.entries.map(entry => entry.name)).toEqual(['a', 'b']);
			await expect(browser.list('/bad')).rejects.toThrow(/No such file or directory/);
			expect(browser.open).toBe(false);
			await expect(browser.list('/')).rejects.toThrow(/has ended/);
		} finally {
			await browser.close();
		}
	});

	/**
	 * `snapdeck files` over a real point, with a guestfish busy booting (it reads nothing for a
	 * while) that cleans up as libguestfs does when its input ends after that: its "socket folder"
	 * goes. Killed by a signal, it would leave the folder.
	 */
	async function listingWhileGuestfishBoots(vm: string) {
		const lab = await labWithVm(vm);
		await execa('qemu-io', ['-f', 'qcow2', '-c', 'write -P 0x22 0 512', await lab.activeFile()]);
		const repo = await tempDir();
		const env = {SNAPDECK_CONNECT: `local:${lab.root}`, SNAPDECK_REPO: repo};
		const backup = await snapdeck(['backup', vm, '--json'], env);
		expect(backup.exitCode, backup.stderr).toBe(0);
		const point = (jsonLines(backup).at(-1)!['point'] as {id: string}).id;
		const marks = await tempDir();
		const fake = path.join(marks, 'guestfish');
		await writeFile(
			fake,
			`#!/bin/sh\nmkdir ${marks}/socket\ntouch ${marks}/started\nsleep 4\ncat > /dev/null\nrmdir ${marks}/socket\n`,
		);
		await chmod(fake, 0o755);
		const listing = execa(path.resolve('bin/snapdeck'), ['files', vm, '--point', point, '/'], {
			reject: false,
			env: {...env, NO_COLOR: '1', SNAPDECK_GUESTFISH: fake},
		});
		for (let wait = 0; wait < 300 && !existsSync(path.join(marks, 'started')); wait++)
			await new Promise(resolve => setTimeout(resolve, 50));
		expect(existsSync(path.join(marks, 'socket'))).toBe(true);
		const socketGone = async () => {
			for (let wait = 0; wait < 200 && existsSync(path.join(marks, 'socket')); wait++)
				await new Promise(resolve => setTimeout(resolve, 50));
			return !existsSync(path.join(marks, 'socket'));
		};
		return {listing, socketGone};
	}

	it('snapdeck stopped at once (a second Ctrl-C) leaves guestfish to end by itself, cleanly, not by a signal', async () => {
		const {listing, socketGone} = await listingWhileGuestfishBoots('pb2');
		listing.kill('SIGINT');
		// Apart enough that the two are two signals, not one the kernel merged while snapdeck waited for a core.
		await new Promise(resolve => setTimeout(resolve, 1000));
		listing.kill('SIGINT');
		const stopped = await listing;
		expect(stopped.exitCode, stopped.stderr).toBe(130);
		expect(await socketGone()).toBe(true);
	}, 60_000);

	it('one Ctrl-C while libguestfs starts is said as a cancel, not as guestfish failing', async () => {
		const {listing, socketGone} = await listingWhileGuestfishBoots('pb3');
		listing.kill('SIGINT');
		const stopped = await listing;
		expect(stopped.exitCode, stopped.stderr).toBe(1);
		expect(stopped.stderr).toContain('cancelled');
		expect(stopped.stderr).not.toContain('guestfish stopped');
		expect(await socketGone()).toBe(true);
	}, 60_000);
});
