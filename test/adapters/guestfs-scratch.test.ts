import {chown, mkdir, readdir, symlink} from 'node:fs/promises';
import path from 'node:path';
import {execa} from 'execa';
import {describe, expect, it} from 'vitest';
import {makeGuestfsScratch, sweepGuestfsScratch} from '../../source/adapters/guestfs-scratch.js';
import {tempDir} from '../helpers/lab.js';

describe("guestfish's scratch folders for listings", () => {
	it("are removed once the process that made them is gone; a live one's, a link, another user's and other names are left", async () => {
		const tmp = await tempDir();
		const mine = await makeGuestfsScratch(tmp);
		// A process that has ended: its id, with a start time, as a killed snapdeck's folder would carry.
		const ended = execa('true');
		const pid = ended.pid!;
		await ended;
		const dead = path.join(tmp, `snapdeck-guestfs-${pid}-12345-0123456789ab`);
		// This process's id with another start time: an earlier process that had the same id.
		const reused = path.join(tmp, `snapdeck-guestfs-${process.pid}-1-0123456789ab`);
		for (const folder of [dead, reused, path.join(tmp, 'snapdeck-guestfs-abcdef'), path.join(tmp, 'elsewhere')])
			await mkdir(folder);
		await mkdir(path.join(dead, 'home'));
		await symlink(path.join(tmp, 'elsewhere'), path.join(tmp, `snapdeck-guestfs-${pid}-1-ffffffffffff`));
		const others = path.join(tmp, `snapdeck-guestfs-${pid}-2-eeeeeeeeeeee`);
		await mkdir(others);
		if (process.getuid?.() === 0) await chown(others, 65534, 65534);

		expect((await sweepGuestfsScratch(tmp)).sort()).toEqual(
			[dead, reused, ...(process.getuid?.() === 0 ? [] : [others])].sort(),
		);
		expect((await readdir(tmp)).sort()).toEqual(
			[
				path.basename(mine),
				'elsewhere',
				'snapdeck-guestfs-abcdef',
				`snapdeck-guestfs-${pid}-1-ffffffffffff`,
				...(process.getuid?.() === 0 ? [path.basename(others)] : []),
			].sort(),
		);
	});
});
