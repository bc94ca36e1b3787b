import {existsSync} from 'node:fs';
import {readFile, writeFile} from 'node:fs/promises';
import path from 'node:path';
import {execa} from 'execa';
import {LibvirtHypervisor} from '../../source/adapters/libvirt/libvirt-hypervisor.js';
import {sessionPorts} from '../../source/service/session-ports.js';
import {MiB, qemuImg, qemuIo, tempDir} from './lab.js';
import {afterEachTest} from './cleanup.js';

export const URI = 'qemu:///system';
export const virsh = (...args: string[]) => execa('virsh', ['-c', URI, ...args]);

const defined: Array<{name: string; uri: string}> = [];
// After each test: every domain it defined goes, with its snapshot metadata, even when it failed.
afterEachTest('libvirt domains', 4, async () => {
	for (const {name, uri} of defined.splice(0)) {
		await execa('virsh', ['-c', uri, 'destroy', '--domain', name], {reject: false});
		await execa('virsh', ['-c', uri, 'undefine', '--domain', name, '--snapshots-metadata', '--checkpoints-metadata'], {
			reject: false,
		});
	}
});

let counter = 0;
const escapeXml = (text: string) => text.replace(/[<>&'"]/g, ch => `&#${ch.charCodeAt(0)};`);

/** A libvirt domain with one qcow2 disk and no guest OS, defined (and started) for one test. */
export async function libvirtDomain(
	options: {running?: boolean; name?: string; imageDir?: string; sizeMiB?: number; uri?: string} = {},
) {
	const uri = options.uri ?? URI;
	const name = options.name ?? `sdt-${process.pid}-${++counter}`;
	const dir = options.imageDir ?? (await tempDir());
	const image = path.join(dir, 'disk.qcow2');
	await qemuImg.create(image, {size: (options.sizeMiB ?? 64) * MiB});
	// /dev/kvm where it exists; software emulation elsewhere.
	const type = existsSync('/dev/kvm') ? 'kvm' : 'qemu';
	const xml = `<domain type='${type}'><name>${escapeXml(name)}</name><memory unit='MiB'>128</memory>
<os><type arch='x86_64' machine='q35'>hvm</type></os>
<devices><disk type='file' device='disk'><driver name='qemu' type='qcow2'/><source file='${escapeXml(image)}'/><target dev='vda' bus='virtio'/></disk></devices></domain>`;
	const xmlFile = path.join(await tempDir(), 'domain.xml');
	await writeFile(xmlFile, xml);
	defined.push({name, uri});
	const on = (...args: string[]) => execa('virsh', ['-c', uri, ...args]);
	await on('define', '--file', xmlFile);
	if (options.running ?? true) await on('start', '--domain', name);
	const hypervisor = new LibvirtHypervisor(uri);
	const service = sessionPorts(hypervisor);
	const activeFile = async () => (await hypervisor.inspect(name)).state.definition.disks[0]!.file;
	const hmp = (command: string) => on('qemu-monitor-command', '--domain', name, '--hmp', command);
	const qdev = '/machine/peripheral/virtio-disk0/virtio-backend';
	return {
		name,
		dir,
		image,
		hypervisor,
		service,
		activeFile,
		/** The guest writes `pattern` over 1 MiB at `mib` MiB, then flushes. */
		guestWrite: async (pattern: number, mib: number, lengthMiB = 1) => {
			await hmp(`qemu-io -d ${qdev} "write -P ${pattern} ${mib * MiB} ${lengthMiB * MiB}"`);
			await hmp(`qemu-io -d ${qdev} "flush"`);
		},
		reads: async (file: string, pattern: number, mib: number) => qemuIo.holds(file, pattern, mib * MiB, MiB),
		take: (snapshot: string, extra: {memory?: boolean; description?: string} = {}) =>
			service.perform(
				{kind: 'take', vm: name, request: {name: snapshot, kind: 'external', now: new Date(), ...extra}},
				{command: 'test', confirm: async () => true},
			),
		revert: (snapshot: string) =>
			service.perform({kind: 'revert', vm: name, snapshot}, {command: 'test', confirm: async () => true}),
		merge: (snapshot: string) =>
			service.perform({kind: 'merge', vm: name, snapshot}, {command: 'test', confirm: async () => true}),
	};
}

/** The commands of a line virsh reads: split at each ';' outside single quotes (virsh's quoting: 'it'\''s'). */
function commandsOf(line: string): string[] {
	const commands: string[] = [];
	let quoted = false;
	let start = 0;
	for (let index = 0; index < line.length; index++) {
		const char = line[index];
		if (char === "'") quoted = !quoted;
		else if (char === '\\' && !quoted) index++;
		else if (char === ';' && !quoted) {
			commands.push(line.slice(start, index).trim());
			start = index + 1;
		}
	}
	return [...commands, line.slice(start).trim()].filter(Boolean);
}

/**
 * A virsh (for SNAPDECK_VIRSH) that notes each process snapdeck starts and every line it sends a
 * session (`virsh --quiet -c URI` reading its standard input), so that a test counts what a
 * command asks libvirt: processes, round trips (each command line a session answers) and virsh
 * commands (those of a batch are joined with '; ').
 */
export async function countingVirsh() {
	const dir = await tempDir();
	const [log, lines, script] = ['processes', 'lines', 'virsh'].map(name => path.join(dir, name)) as [
		string,
		string,
		string,
	];
	await writeFile(
		script,
		`#!/bin/sh\necho "$1 $#" >> '${log}'\nif [ "$1 $#" = '--quiet 3' ]; then tee -a '${lines}' | exec virsh "$@"; fi\nexec virsh "$@"\n`,
		{mode: 0o755},
	);
	return {
		env: {SNAPDECK_VIRSH: script},
		async count() {
			const processes = (await readFile(log, 'utf8').catch(() => '')).split('\n').filter(Boolean);
			const sent = (await readFile(lines, 'utf8').catch(() => ''))
				.split('\n')
				.filter(line => line && !line.startsWith("echo '") && !line.startsWith('echo --err'));
			await Promise.all([writeFile(log, ''), writeFile(lines, '')]);
			return {
				processes: processes.length,
				sessions: processes.filter(args => args === '--quiet 3').length,
				roundTrips: sent.length,
				commands: sent.flatMap(line => commandsOf(line).filter(part => !part.startsWith('echo '))),
			};
		},
	};
}
