import path from 'node:path';
import envPaths from 'env-paths';
import {SnapdeckError} from '../core/errors.js';
import {sshHost, type SshTarget} from './host.js';
import type {Hypervisor} from './hypervisor.js';
import {LibvirtHypervisor} from './libvirt/libvirt-hypervisor.js';
import {LocalHypervisor} from './local/local-hypervisor.js';

/** Where `snapdeck demo` builds its lab unless told otherwise: the user's data directory. */
export const defaultDemoDir = () => path.join(envPaths('snapdeck', {suffix: ''}).data, 'demo');


export function connect(uri: string): Hypervisor {
	if (uri.startsWith('local:')) {
		const dir = uri.slice('local:'.length);
		if (dir.length === 0) throw new SnapdeckError('usage', `connection '${uri}' names no directory`, 'write it as local:DIR, for example local:/var/lib/snapdeck/lab');
		return new LocalHypervisor(path.resolve(dir));
	}
	if (uri === 'libvirt') return new LibvirtHypervisor(process.env['LIBVIRT_DEFAULT_URI'] ?? 'qemu:///system');
	if (/^(qemu|test):\/\/\/[a-z]+$/.test(uri)) return new LibvirtHypervisor(uri);
	if (uri.startsWith('qemu+ssh://')) return new LibvirtHypervisor(uri, sshHost(sshTargetOf(uri)));
	if (/^[a-z0-9]+\+[a-z]+:\/\//.test(uri)) {
		throw new SnapdeckError('usage', `connection '${uri}' uses a transport snapdeck does not support`, 'use qemu+ssh://USER@HOST/system for a remote host');
	}
	throw new SnapdeckError('usage', `'${uri}' is not a connection snapdeck knows`, 'write it as local:DIR, qemu:///system, qemu:///session or libvirt (LIBVIRT_DEFAULT_URI, else qemu:///system)');
}

/** The ssh destination of a qemu+ssh:// URI, with libvirt's keyfile and no_verify parameters. */
export function sshTargetOf(uri: string): SshTarget {
	let url: URL;
	try {
		url = new URL(uri);
	} catch {
		throw new SnapdeckError('usage', `'${uri}' is not a valid connection URI`, 'write it as qemu+ssh://USER@HOST[:PORT]/system');
	}
	if (!url.hostname) throw new SnapdeckError('usage', `'${uri}' names no host`, 'write it as qemu+ssh://USER@HOST[:PORT]/system');
	return {
		host: url.hostname,
		...(url.username ? {user: decodeURIComponent(url.username)} : {}),
		...(url.port ? {port: Number(url.port)} : {}),
		...(url.searchParams.get('keyfile') ? {keyfile: url.searchParams.get('keyfile')!} : {}),
		noVerify: url.searchParams.get('no_verify') === '1',
	};
}
