import {chmod, mkdir, writeFile} from 'node:fs/promises';
import path from 'node:path';
import {afterEach, describe, expect, it} from 'vitest';
import {Guestfs} from '../../source/adapters/guestfs.js';
import {tempDir} from '../helpers/lab.js';

/**
 * A stand-in for guestfish: `echo` answers at once; `hold NAME` answers only once the file NAME
 * is in $HOME (the scratch folder), as a command that takes long; `fail WHAT` says a libguestfs
 * error and goes on reading, as guestfish does where an error does not end it.
 */
const FAKE_GUESTFISH = `#!/bin/sh
while IFS= read -r line; do
	case "$line" in
		echo\\ *) printf '%s\\n' "\${line#echo }";;
		hold\\ *) while [ ! -e "$HOME/\${line#hold }" ]; do sleep 0.05; done; printf 'answer of %s\\n' "\${line#hold }";;
		fail\\ *) printf 'libguestfs: error: %s\\n' "\${line#fail }" >&2;;
		exit) exit 0;;
	esac
done
`;

const opened: Guestfs[] = [];
afterEach(async () => {
	for (const guestfs of opened.splice(0)) await guestfs.close();
	delete process.env['SNAPDECK_GUESTFISH'];
});

async function fakeSession(): Promise<{guestfs: Guestfs; let: (name: string) => Promise<void>}> {
	const dir = await tempDir();
	const fake = path.join(dir, 'guestfish');
	await writeFile(fake, FAKE_GUESTFISH);
	await chmod(fake, 0o755);
	process.env['SNAPDECK_GUESTFISH'] = fake;
	const scratch = path.join(dir, 'scratch');
	await mkdir(scratch);
	const guestfs = await Guestfs.open(['disk.qcow2'], {scratch});
	opened.push(guestfs);
	return {guestfs, let: name => writeFile(path.join(scratch, name), '')};
}

describe('one guestfish session', () => {
	it('takes no command after one that timed out: its late answer is never read as the next one', async () => {
		const {guestfs, let: answer} = await fakeSession();
		await expect(guestfs.run('hold first', 200)).rejects.toThrow(/did not finish 'hold' within/);
		await answer('first');
		await expect(guestfs.run('echo second')).rejects.toThrow(/takes no more commands: an earlier command failed/);
		expect(guestfs.usable).toBe(false);
	});

	it('takes no command after one that failed', async () => {
		const {guestfs} = await fakeSession();
		await expect(guestfs.run('fail no such file')).rejects.toThrow(/libguestfs: no such file/);
		await expect(guestfs.run('echo second')).rejects.toThrow(/takes no more commands/);
		expect(guestfs.usable).toBe(false);
	});

	it('answers batches sent together each with its own answers: they run one after another', async () => {
		const {guestfs, let: answer} = await fakeSession();
		const both = Promise.all([guestfs.runAll(['hold a', 'echo b']), guestfs.runAll(['echo c'])]);
		await answer('a');
		expect(await both).toEqual([['answer of a\n', 'b\n'], ['c\n']]);
		expect(guestfs.usable).toBe(true);
	});
});
