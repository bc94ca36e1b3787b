import {execFile} from 'node:child_process';
import {existsSync} from 'node:fs';
import {readFile} from 'node:fs/promises';
import {promisify} from 'node:util';
import {cheapenResticKeys} from './restic-key.js';

/*
 * What the system tier's restic shim (test/helpers/restic-shim.ts) runs after a `restic init` that
 * snapdeck ran: the new repository's key rewritten with cheap scrypt parameters (restic-key.ts),
 * where the repository is a folder on this machine (a path, or sftp to 127.0.0.1). Its arguments
 * and environment are restic's own.
 */

/** The folder on this machine a restic repository string names, if it names one. */
export function localFolder(repository: string): string | undefined {
	if (repository.startsWith('/')) return repository;
	const sftp =
		/^sftp:(?:[^@/:]+@)?(?:127\.0\.0\.1|localhost):(\/.*)$/.exec(repository) ??
		/^sftp:\/\/(?:[^@/]+@)?(?:127\.0\.0\.1|localhost)(?::\d+)?\/(\/.*)$/.exec(repository);
	return sftp?.[1];
}

/** The password restic was given: by file, by command, or in the environment. */
async function password(args: string[], env: NodeJS.ProcessEnv): Promise<string | undefined> {
	const flag = args.indexOf('--password-file');
	const file = flag >= 0 ? args[flag + 1] : env['RESTIC_PASSWORD_FILE'];
	if (file) return (await readFile(file, 'utf8')).split('\n')[0];
	if (env['RESTIC_PASSWORD_COMMAND'])
		return (await promisify(execFile)('/bin/sh', ['-c', env['RESTIC_PASSWORD_COMMAND']])).stdout.split('\n')[0];
	return env['RESTIC_PASSWORD'];
}

export async function main(args: string[], env: NodeJS.ProcessEnv): Promise<void> {
	const flag = args.findIndex(arg => arg === '-r' || arg === '--repo');
	const repository = flag >= 0 ? args[flag + 1] : env['RESTIC_REPOSITORY'];
	const folder = repository === undefined ? undefined : localFolder(repository);
	const secret = await password(args, env);
	if (folder === undefined || secret === undefined || !existsSync(`${folder}/keys`)) return;
	await cheapenResticKeys(folder, secret);
}
