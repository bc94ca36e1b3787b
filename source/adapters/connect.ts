import path from 'node:path';
import os from 'node:os';
import {userDir} from '../core/user-dirs.js';
import {SnapdeckError} from '../core/errors.js';
import {sshHost, type SshTarget} from './host.js';
import type {Hypervisor} from './hypervisor.js';

/** Where `snapdeck demo` builds its lab unless told otherwise: the user's data directory. */
export const defaultDemoDir = () => path.join(userDir('data', process.env, os.homedir()), 'demo');

/**
 * The hypervisor a connection URI names. Each adapter is loaded only when a URI names it: the
 * libvirt one brings an XML parser that a local lab never needs.
 */
export async function connect(uri: string): Promise<Hypervisor> {
	if (uri.startsWith('local:')) {
		const dir = uri.slice('local:'.length);
		if (dir.length === 0)
			throw new SnapdeckError(
				'usage',
				`connection '${uri}' names no directory`,
				'write it as local:DIR, for example local:/var/lib/snapdeck/lab',
			);
		const {LocalHypervisor} = await import('./local/local-hypervisor.js');
		return new LocalHypervisor(path.resolve(dir));
	}
	const libvirt = async (target: string, host?: ReturnType<typeof sshHost>) =>
		new (await import('./libvirt/libvirt-hypervisor.js')).LibvirtHypervisor(target, host);
	if (uri === 'libvirt') return libvirt(process.env['LIBVIRT_DEFAULT_URI'] ?? 'qemu:///system');
	if (/^(qemu|test):\/\/\/[a-z]+$/.test(uri)) return libvirt(uri);
	if (uri.startsWith('qemu+ssh://')) return libvirt(uri, sshHost(sshTargetOf(uri)));
	if (/^[a-z0-9]+\+[a-z]+:\/\//.test(uri)) {
		throw new SnapdeckError(
			'usage',
			`connection '${uri}' uses a transport snapdeck does not support`,
			'use qemu+ssh://USER@HOST/system for a remote host',
		);
	}
	throw new SnapdeckError(
		'usage',
		`'${uri}' is not a connection snapdeck knows`,
		'write it as local:DIR, qemu:///system, qemu:///session or libvirt (LIBVIRT_DEFAULT_URI, else qemu:///system)',
	);
}

/** The ssh destination of a qemu+ssh:// URI, with libvirt's keyfile and no_verify parameters. */
export function sshTargetOf(uri: string): SshTarget {
	let url: URL;
	try {
		url = new URL(uri);
	} catch {
		throw new SnapdeckError(
			'usage',
			`'${uri}' is not a valid connection URI`,
			'write it as qemu+ssh://USER@HOST[:PORT]/system',
		);
	}
	if (!url.hostname)
		throw new SnapdeckError('usage', `'${uri}' names no host`, 'write it as qemu+ssh://USER@HOST[:PORT]/system');
	return {
		host: url.hostname,
		...(url.username ? {user: decodeURIComponent(url.username)} : {}),
		...(url.port ? {port: Number(url.port)} : {}),
		...(url.searchParams.get('keyfile') ? {keyfile: url.searchParams.get('keyfile')!} : {}),
		noVerify: url.searchParams.get('no_verify') === '1',
	};
}
