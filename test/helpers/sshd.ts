import {spawn, type ChildProcess} from 'node:child_process';
import {mkdir, mkdtemp, rm, writeFile} from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import {execa} from 'execa';
import {freePort, waitForPort} from './net.js';

/** A real sshd on 127.0.0.1 for one test file: its own host key, client key and authorized keys. */
export async function startSshd(): Promise<{port: number; keyfile: string; stop: () => Promise<void>}> {
	// Its own directory, not tempDir(): that one goes after each test, and the keys must last the whole file.
	const dir = await mkdtemp(path.join(os.tmpdir(), 'snapdeck-sshd-'));
	await execa('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', path.join(dir, 'host_key')]);
	await execa('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', path.join(dir, 'client_key')]);
	await execa('cp', [path.join(dir, 'client_key.pub'), path.join(dir, 'authorized_keys')]);
	await mkdir(path.join(dir, 'home'));
	const port = await freePort();
	await writeFile(
		path.join(dir, 'sshd_config'),
		[
			`Port ${port}`,
			'ListenAddress 127.0.0.1',
			`HostKey ${path.join(dir, 'host_key')}`,
			`AuthorizedKeysFile ${path.join(dir, 'authorized_keys')}`,
			'PermitRootLogin prohibit-password',
			'PasswordAuthentication no',
			'KbdInteractiveAuthentication no',
			'UsePAM no',
			'StrictModes no',
			'Subsystem sftp /usr/lib/openssh/sftp-server',
			`PidFile ${path.join(dir, 'sshd.pid')}`,
			// An empty HOME for the sessions: bash, run by sshd, reads ~/.bashrc even for a command, and
			// a machine's own (this kind's root runs pyenv's init there: 0.9 s a command) would be timed,
			// and any output it printed would be taken for the command's.
			`SetEnv HOME=${path.join(dir, 'home')}`,
			'',
		].join('\n'),
	);
	await mkdir('/run/sshd', {recursive: true}); // sshd's privilege separation directory
	const sshd: ChildProcess = spawn('/usr/sbin/sshd', ['-D', '-e', '-f', path.join(dir, 'sshd_config')], {
		stdio: 'ignore',
	});
	await waitForPort(port, 5000);
	return {
		port,
		keyfile: path.join(dir, 'client_key'),
		stop: async () => {
			sshd.kill();
			await rm(dir, {recursive: true, force: true});
		},
	};
}
