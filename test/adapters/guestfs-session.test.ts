import {existsSync} from 'node:fs';
import {chmod, mkdir, readFile, rm, writeFile} from 'node:fs/promises';
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

/**
 * A guestfish that will not end: it holds a socket in a folder of /tmp as libguestfs does (named
 * as libguestfs names it, written to $HOME/socket-folder), answers `echo`, and takes no notice of
 * `exit`, of the end of its input or of SIGTERM, as one stuck in a command would.
 */
const STUCK_GUESTFISH = `#!/usr/bin/env node
const fs = require('node:fs');
const net = require('node:net');
const letters = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789';
const folder = '/tmp/libguestfs' + Array.from({length: 6}, () => letters[Math.floor(Math.random() * letters.length)]).join('');
fs.mkdirSync(folder, {mode: 0o700});
net.createServer().listen(folder + '/guestfsd.sock', () => fs.writeFileSync(process.env.HOME + '/socket-folder', folder));
process.on('SIGTERM', () => {});
let rest = '';
process.stdin.on('data', chunk => {
	rest += chunk;
	let at;
	while ((at = rest.indexOf('\\n')) >= 0) {
		const line = rest.slice(0, at);
		rest = rest.slice(at + 1);
		if (line.startsWith('echo ')) process.stdout.write(line.slice(5) + '\\n');
	}
});
`;

const opened: Guestfs[] = [];
// Socket folders a test's guestfish may leave: removed after each test.
const left: string[] = [];
afterEach(async () => {
	for (const guestfs of opened.splice(0)) await guestfs.close();
	for (const folder of left.splice(0)) await rm(folder, {recursive: true, force: true});
	delete process.env['SNAPDECK_GUESTFISH'];
});

async function fakeSession(
	script = FAKE_GUESTFISH,
	graceMs?: number,
): Promise<{guestfs: Guestfs; scratch: string; let: (name: string) => Promise<void>}> {
	const dir = await tempDir();
	const fake = path.join(dir, 'guestfish');
	await writeFile(fake, script);
	await chmod(fake, 0o755);
	process.env['SNAPDECK_GUESTFISH'] = fake;
	const scratch = path.join(dir, 'scratch');
	await mkdir(scratch);
	const guestfs = await Guestfs.open(['disk.qcow2'], {scratch, ...(graceMs === undefined ? {} : {graceMs})});
	opened.push(guestfs);
	return {guestfs, scratch, let: name => writeFile(path.join(scratch, name), '')};
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

	it('ends a guestfish that will not exit by a signal only at last, and then removes the socket folder it left in /tmp', async () => {
		const {guestfs, scratch} = await fakeSession(STUCK_GUESTFISH, 200);
		expect(await guestfs.run('echo hello')).toBe('hello\n');
		const folder = await readFile(path.join(scratch, 'socket-folder'), 'utf8');
		left.push(folder);
		expect(existsSync(folder)).toBe(true);
		await guestfs.close();
		expect(guestfs.running).toBe(false);
		expect(existsSync(folder), folder).toBe(false);
	});
});
