import path from 'node:path';
import envPaths from 'env-paths';
import {SnapdeckError} from '../core/errors.js';
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
	if (/^[a-z0-9]+\+[a-z]+:\/\//.test(uri)) {
		throw new SnapdeckError('usage', `connection '${uri}' is a remote libvirt host, which this version cannot reach yet`, 'run snapdeck on that host, with --connect qemu:///system');
	}
	throw new SnapdeckError('usage', `'${uri}' is not a connection snapdeck knows`, 'write it as local:DIR, qemu:///system, qemu:///session or libvirt (LIBVIRT_DEFAULT_URI, else qemu:///system)');
}
