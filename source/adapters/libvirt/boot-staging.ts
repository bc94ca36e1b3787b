import {stat} from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import {SnapdeckError} from '../../core/errors.js';
import {formatBytes} from '../../core/units.js';
import {processAlive} from '../file-checks.js';
import {localHost, type Host} from '../host.js';
import type {BootOptions} from '../hypervisor.js';
import type {Virsh} from './virsh.js';
import {parseDomainXml} from './xml.js';

/**
 * Destroys the throwaway domain of a killed boot test: only a transient domain whose name carries
 * the job's token (a domain defined for good is never one of snapdeck's throwaways).
 */
export async function removeThrowawayDomain(
	virsh: Virsh,
	uri: string,
	name: string,
	token: string,
): Promise<{removed?: string; left?: string}> {
	if (!name.endsWith(`-boottest-${token}`))
		return {left: `throwaway domain ${name}: its name does not carry the job's token`};
	const info = await virsh.run(['dominfo', '--domain', name]).catch(() => null);
	if (info === null) return {};
	if (!/^Persistent:\s+no$/m.test(info))
		return {left: `domain ${name} is defined for good, so it is not a throwaway of snapdeck's`};
	await virsh.run(['destroy', '--domain', name]).catch(() => undefined);
	return {removed: `the throwaway domain ${name} on ${uri}`};
}

/**
 * Copies each disk's layers (the local overlay on the point, then the point's chain) into a new
 * folder beside the domain's images on the remote host, named for this machine and process so
 * that the folder of a killed boot test is found and removed by the next one; the folder is
 * private (0711: QEMU, when it runs as its own user, may pass but not list), each copy is
 * 0600 and renamed to depth order, its backing rewritten (unsafe: names only) to its copied parent.
 */
export async function stageOnHost(
	host: Host,
	live: string | undefined,
	definition: string,
	disks: Readonly<Record<string, string>>,
	{signal, onCopied}: BootOptions,
) {
	// Beside the domain's images as libvirt knows them now (`live`); the point's recorded paths (read from
	// the repository, so not trusted to choose a folder on the host) only when the domain is gone.
	const parent = path.posix.dirname(live ?? parseDomainXml(definition).disks[0]?.file ?? '/var/tmp/x');
	const me = `.snapdeck-boottest-${os.hostname().replace(/[^A-Za-z0-9.-]/g, '_')}-`;
	for (const leftover of await host.listDir(parent)) {
		const owner = path.posix.basename(leftover).startsWith(me)
			? Number(path.posix.basename(leftover).slice(me.length).split('-')[0])
			: NaN;
		if (Number.isInteger(owner) && owner !== process.pid && !(await processAlive(owner)))
			await host.removeDir(leftover).catch(() => undefined);
	}
	const chains = Object.fromEntries(
		await Promise.all(Object.entries(disks).map(async ([disk, file]) => [disk, await localHost.chain(file)] as const)),
	);
	const sizes = new Map(
		await Promise.all(
			Object.values(chains)
				.flatMap(chain => chain.chain)
				.map(async file => [file, (await stat(file)).size] as const),
		),
	);
	const bytes = [...sizes.values()].reduce((sum, size) => sum + size, 0);
	const free = await host.freeBytes(parent);
	if (bytes > free)
		throw new SnapdeckError(
			'refused',
			`booting the point on ${host.name} copies ${formatBytes(bytes)} of its layers to ${parent} there, and ${formatBytes(free)} is free`,
			'free some space there, or restore the point elsewhere and boot it there',
		);
	const dir = (await host.runner.run('mktemp', ['-d', '-p', parent, `${me}${process.pid}-XXXXXX`])).stdout.trim();
	try {
		await host.runner.run('chmod', ['0711', '--', dir]);
		const staged: Record<string, string> = {};
		let copied = 0;
		for (const [disk, {chain, problem}] of Object.entries(chains)) {
			if (problem !== null) throw new SnapdeckError('failed', `cannot boot the point: ${problem}`);
			const copies = chain.map((_, depth) => path.posix.join(dir, `${disk}.${depth}.qcow2`));
			for (const [depth, file] of chain.entries()) {
				await host.push(file, copies[depth]!, {signal, onBytes: sent => onCopied?.(copied + sent, bytes)});
				copied += sizes.get(file)!;
			}
			for (const [depth, copy] of copies.entries()) {
				if (depth + 1 < copies.length)
					await host.runner.run('qemu-img', [
						'rebase',
						'-u',
						'-f',
						'qcow2',
						'-F',
						'qcow2',
						'-b',
						path.posix.basename(copies[depth + 1]!),
						'--',
						copy,
					]);
			}
			staged[disk] = copies[0]!;
		}
		return {dir, disks: staged};
	} catch (error) {
		await host.removeDir(dir).catch(() => undefined);
		throw error;
	}
}
