import {describe, expect, it} from 'vitest';
import {sftpCommand, sftpParts} from '../../source/adapters/restic-sftp.js';

describe('the ssh restic runs for an sftp: target', () => {
	it('says what restic would (host, port, user) and bounds the connect, the banner and a silent peer', () => {
		expect(sftpParts('sftp://backup@nas.example.org:2222//srv/restic')).toEqual({
			host: 'nas.example.org',
			port: '2222',
			user: 'backup',
		});
		expect(sftpParts('sftp:backup@nas:/srv/restic')).toEqual({host: 'nas', port: null, user: 'backup'});
		expect(sftpParts('sftp:nas:/srv/restic')).toEqual({host: 'nas', port: null, user: null});
		expect(sftpParts('sftp://[::1]:22//x')).toEqual({host: '::1', port: '22', user: null});
		expect(sftpCommand('sftp://backup@127.0.0.1:2222//srv/restic', false)).toBe(
			'ssh -o ConnectTimeout=10 -o ServerAliveInterval=15 -o ServerAliveCountMax=3 -o BatchMode=yes -p 2222 -l backup -s -- 127.0.0.1 sftp',
		);
		expect(sftpCommand('sftp:nas:/srv/restic', true)).toBe(
			'/usr/bin/setpriv --pdeathsig TERM -- ssh -o ConnectTimeout=10 -o ServerAliveInterval=15 -o ServerAliveCountMax=3 -o BatchMode=yes -s -- nas sftp',
		);
	});

	it('refuses a host, port or user that would be read as an option or split into words, and says how to give a command of your own', () => {
		for (const repository of [
			'sftp:-oProxyCommand=x:/srv',
			'sftp:a b@host:/srv',
			'sftp://host:99999//srv',
			'sftp:-l@host:/srv',
			'sftp:host"x:/srv',
		]) {
			expect(() => sftpCommand(repository, false), repository).toThrow(
				/cannot build a bounded ssh command|is not an sftp:\/\/ URL restic can read/,
			);
		}
		try {
			sftpCommand('sftp:-oProxyCommand=x:/srv', false);
		} catch (error) {
			expect((error as {hint?: string}).hint).toContain('"sftp.command"');
		}
	});
});
