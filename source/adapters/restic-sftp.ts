import {SnapdeckError} from '../core/errors.js';

/**
 * The ssh that restic runs for an sftp: target, built by snapdeck so that it is bounded: a connect
 * and banner timeout, keep-alives that end a connection whose peer went silent (3 x 15 s), and
 * no prompt. restic 0.14 has no sftp.args, only sftp.command, which replaces its own command line:
 * this one says what restic's would (its host, port and user, parsed as restic parses them),
 * plus the bounds. Under setpriv, ssh is told to end when restic does.
 */

const HOST = /^(?:[A-Za-z0-9](?:[A-Za-z0-9.-]{0,252})|[0-9A-Fa-f:.]{2,45})$/;
const USER = /^[A-Za-z0-9._][A-Za-z0-9._@-]{0,63}$/;
const PORT = /^\d{1,5}$/;

/** Host, port and user of an sftp: repository string, as restic 0.14 reads them (sftp://USER@HOST:PORT//PATH or sftp:USER@HOST:PATH). */
export function sftpParts(repository: string): {host: string; port: string | null; user: string | null} {
	if (repository.startsWith('sftp://')) {
		let url: URL;
		try {
			url = new URL(repository);
		} catch {
			throw new SnapdeckError('usage', `${repository} is not an sftp:// URL restic can read`);
		}
		return {
			host: url.hostname.replace(/^\[(.*)\]$/, '$1'),
			port: url.port || null,
			user: url.username ? decodeURIComponent(url.username) : null,
		};
	}
	const rest = repository.slice('sftp:'.length);
	const colon = rest.indexOf(':');
	if (colon < 0)
		throw new SnapdeckError(
			'usage',
			`${repository}: an sftp: repository is sftp:USER@HOST:/PATH or sftp://USER@HOST:PORT//PATH`,
		);
	const login = rest.slice(0, colon);
	const at = login.lastIndexOf('@');
	return {host: at < 0 ? login : login.slice(at + 1), port: null, user: at < 0 ? null : login.slice(0, at)};
}

/** restic's sftp.command for a repository: a word list restic splits at spaces, so every word is checked to hold none. */
export function sftpCommand(repository: string, setpriv: boolean): string {
	const {host, port, user} = sftpParts(repository);
	const bad = !HOST.test(host)
		? `host '${host}'`
		: port !== null && !(PORT.test(port) && Number(port) > 0 && Number(port) < 65536)
			? `port '${port}'`
			: user !== null && !USER.test(user)
				? `user '${user}'`
				: null;
	if (bad !== null) {
		throw new SnapdeckError(
			'usage',
			`cannot build a bounded ssh command for ${repository}: its ${bad} is not a plain name`,
			'give the target your own "options": {"sftp.command": "ssh ... -s sftp"} in the config (with -o ConnectTimeout= and -o ServerAliveInterval= so that it cannot hang)',
		);
	}
	return [
		...(setpriv ? ['/usr/bin/setpriv', '--pdeathsig', 'TERM', '--'] : []),
		'ssh',
		'-o',
		'ConnectTimeout=10',
		'-o',
		'ServerAliveInterval=15',
		'-o',
		'ServerAliveCountMax=3',
		'-o',
		'BatchMode=yes',
		...(port === null ? [] : ['-p', port]),
		...(user === null ? [] : ['-l', user]),
		'-s',
		'--',
		host,
		'sftp',
	].join(' ');
}
