import {copyFile, readFile} from 'node:fs/promises';
import path from 'node:path';
import {SnapdeckError} from '../../core/errors.js';
import {judgeBoot, type AgentLink} from '../boot-check.js';
import {processAlive} from '../file-checks.js';
import {execInGuest, type AgentCommand} from '../guest-agent.js';
import {localHost, type Host} from '../host.js';
import type {BootCheck, BootOptions, BootResult} from '../hypervisor.js';
import {stageOnHost} from './boot-staging.js';
import type {LibvirtConnection} from './connection.js';
import {asThrowawayDomain} from './domain-edit.js';
import type {Virsh} from './virsh.js';
import {withXmlFile} from './xml-file.js';
import {domainBootFiles} from './xml.js';

/** The point's layers copied to a remote host for its boot (stageOnHost); null on this machine. */
type Staged = {dir: string; disks: Record<string, string>} | null;

/**
 * Boots a point as a transient domain on the connection's libvirtd (asThrowawayDomain: no
 * network, destroyed when the guest powers off or resets), judges it as the local adapter does,
 * takes a screenshot through QEMU's monitor, and destroys it, always. On a remote host the
 * point's layers are first copied into a private folder beside the domain's images there
 * (stageOnHost), which goes with the domain.
 */
export async function bootThrowawayDomain(
	connection: LibvirtConnection,
	vm: string,
	definition: unknown,
	disks: Readonly<Record<string, string>>,
	work: string,
	check: BootCheck,
	options: BootOptions = {},
): Promise<BootResult> {
	const {signal} = options;
	const {virsh, host} = connection;
	if (typeof definition !== 'string' || !definition.includes('<domain'))
		throw new SnapdeckError(
			'refused',
			'the backup point does not hold a libvirt domain definition, so it cannot be booted here',
		);
	// Its name carries the job's token: recover destroys it by that after a kill, and nothing else.
	const name = options.throwaway ? `${vm}-boottest-${options.throwaway.token}` : `${vm}-boottest-${process.pid}`;
	await destroyDeadThrowaways(connection, vm);
	// Refused, where the point lacks one, before anything is copied.
	const bootFiles = pointBootFiles(definition, options.bootFiles ?? {});
	const live =
		host === localHost
			? undefined
			: await connection.inspect(vm).then(
					inspection => inspection.state.definition.disks[0]?.file,
					() => undefined,
				);
	const staged: Staged = host === localHost ? null : await stageOnHost(host, live, definition, disks, options);
	const there = staged?.dir ?? work;
	const files = {console: path.join(there, 'console.log')};
	const readConsole =
		staged === null
			? () => readFile(files.console, 'utf8').catch(() => '')
			: () =>
					host.runner.run('tail', ['-c', '262144', '--', files.console]).then(
						result => result.stdout,
						() => '',
					);
	try {
		const boot = await placeBootFiles(host, bootFiles, work, staged, signal);
		const began = performance.now();
		await options.throwaway?.register(name);
		await withXmlFile(
			asThrowawayDomain(
				definition,
				name,
				new Map(Object.entries(staged?.disks ?? disks)),
				files,
				new Map(Object.entries(boot)),
			),
			file => virsh.run(['create', '--file', file]),
		);
		options.onStarted?.();
		const verdict = await judgeBoot({
			readConsole,
			agent: domainAgent(virsh, name),
			check,
			signal,
			stopped: async () => {
				const state = await virsh.run(['domstate', '--domain', name]).catch(() => 'gone');
				return /running|paused|blocked|pmsuspended/.test(state) ? null : 'the guest powered off or reset';
			},
		});
		const screenshot = await screendump(connection, name, there, path.join(work, 'screen.png'), staged !== null);
		return {...verdict, seconds: (performance.now() - began) / 1000, console: await readConsole(), screenshot};
	} finally {
		await virsh.run(['destroy', '--domain', name]).catch(() => undefined);
		if (staged !== null) await host.removeDir(staged.dir).catch(() => undefined);
	}
}

/**
 * A throwaway domain of an older snapdeck's boot test that was killed: its name carries that
 * snapdeck's pid; one whose process is gone is destroyed before this test.
 */
async function destroyDeadThrowaways(connection: LibvirtConnection, vm: string) {
	for (const leftover of await connection.domainNames()) {
		const owner = leftover.startsWith(`${vm}-boottest-`) ? Number(leftover.slice(`${vm}-boottest-`.length)) : NaN;
		if (Number.isInteger(owner) && owner !== process.pid && !(await processAlive(owner)))
			await connection.virsh.run(['destroy', '--domain', leftover]).catch(() => undefined);
	}
}

/**
 * The point's own kernel, initramfs and UEFI variables (never the live domain's), by the path the
 * definition gives each: `own` is the point's copy, none for UEFI variables it does not hold.
 */
function pointBootFiles(definition: string, bootFiles: Readonly<Record<string, string>>) {
	return domainBootFiles(definition).map(file => {
		const own = bootFiles[file.path];
		if (own === undefined && file.role !== 'nvram')
			throw new SnapdeckError(
				'refused',
				`the point does not hold ${file.path}, the ${file.role} the domain boots (it was taken before snapdeck kept it with its points): booting the live one would prove nothing about the point`,
				'take a new backup and boot-test that; no verdict was recorded',
			);
		return {...file, own};
	});
}

/** Where the throwaway finds each of the point's boot files, copied to the host where it is another. */
async function placeBootFiles(
	host: Host,
	files: ReturnType<typeof pointBootFiles>,
	work: string,
	staged: Staged,
	signal: AbortSignal | undefined,
): Promise<Record<string, string>> {
	const boot: Record<string, string> = {};
	for (const {path: at, role, own} of files) {
		if (own === undefined) {
			// No variables of its own: the throwaway starts with fresh ones, never the live domain's file.
			boot[at] = '';
			continue;
		}
		// UEFI writes its variables: into a copy of the point's, never the point's own.
		const there =
			staged === null ? (role === 'nvram' ? path.join(work, 'nvram.fd') : own) : path.posix.join(staged.dir, role);
		if (staged !== null) await host.push(own, there, {signal});
		else if (there !== own) await copyFile(own, there);
		boot[at] = there;
	}
	return boot;
}

/** The throwaway's guest agent: libvirt holds the agent's channel itself (QEMU serves one client), so through virsh. */
function domainAgent(virsh: Virsh, name: string): AgentLink {
	const agentCommand: AgentCommand = async <T>(command: string, args?: Record<string, unknown>) =>
		(
			JSON.parse(
				await virsh.run([
					'qemu-agent-command',
					'--domain',
					name,
					'--timeout',
					'10',
					JSON.stringify({execute: command, ...(args ? {arguments: args} : {})}),
				]),
			) as {return: T}
		).return;
	return {
		ping: () =>
			agentCommand('guest-ping').then(
				() => true,
				() => false,
			),
		exec: (program, args, timeoutMs) => execInGuest(agentCommand, program, args, timeoutMs),
	};
}

/** A PNG of the throwaway's display (QEMU's screendump, into `there`, fetched to `png` from a remote host); null when there is none. */
async function screendump(
	{virsh, host}: LibvirtConnection,
	name: string,
	there: string,
	png: string,
	remote: boolean,
): Promise<Buffer | null> {
	const shotThere = path.join(there, 'screen.png');
	return virsh
		.run([
			'qemu-monitor-command',
			'--domain',
			name,
			JSON.stringify({execute: 'screendump', arguments: {filename: shotThere, format: 'png'}}),
		])
		.then(async () => (remote ? host.fetch(shotThere, png) : undefined))
		.then(
			() => readFile(png),
			() => null,
		);
}
