import {copyFile, mkdir, readdir, readFile, writeFile} from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import {execa} from 'execa';
import {afterEach, describe, expect, it} from 'vitest';
import {connect} from '../../source/adapters/connect.js';
import {LibvirtHypervisor} from '../../source/adapters/libvirt/libvirt-hypervisor.js';
import {Policy} from '../../source/core/policy.js';
import {sessionPorts} from '../../source/service/session-ports.js';
import {guestImage} from '../helpers/guest.js';
import {qemuImg, tempDir} from '../helpers/lab.js';
import {startSshd} from '../helpers/sshd.js';

const URI = 'qemu:///system';
const virsh = (...args: string[]) => execa('virsh', ['-c', URI, ...args], {reject: false});
const defined: string[] = [];
afterEach(async () => {
	for (const name of defined.splice(0)) {
		await virsh('destroy', '--domain', name);
		await virsh('undefine', '--domain', name, '--snapshots-metadata', '--checkpoints-metadata');
	}
});

/** The real guest as a stopped libvirt domain: software emulation (a stock kernel hangs under kvm-pvm), a direct kernel boot; defined for one test. */
async function guestDomain(name: string, devices: string) {
	const image = guestImage();
	const dir = await tempDir();
	for (const file of ['vmlinuz', 'initrd']) await copyFile(path.join(image, file), path.join(dir, file));
	const disk = path.join(dir, 'disk.qcow2');
	await qemuImg.convert(path.join(image, 'root.qcow2'), disk);
	const xmlFile = path.join(dir, 'domain.xml');
	await writeFile(
		xmlFile,
		`<domain type='qemu'><name>${name}</name><memory unit='MiB'>256</memory>
<os><type arch='x86_64' machine='q35'>hvm</type><kernel>${dir}/vmlinuz</kernel><initrd>${dir}/initrd</initrd><cmdline>console=tty0 console=ttyS0 panic=-1</cmdline></os>
<devices><disk type='file' device='disk'><driver name='qemu' type='qcow2'/><source file='${disk}'/><target dev='vda' bus='virtio'/></disk>${devices}<serial type='pty'/></devices></domain>`,
	);
	defined.push(name);
	expect((await virsh('define', '--file', xmlFile)).exitCode).toBe(0);
	return {dir};
}

describe('verify --boot on libvirt, with the real Linux guest', () => {
	it("boots a point of a libvirt domain as a transient domain on this host's libvirtd: the agent answers, the evidence is kept, no domain is left", async () => {
		const name = `sdt-boot-${process.pid}`;
		await guestDomain(name, "<interface type='user'><model type='virtio'/></interface>");
		const repo = await tempDir();
		// The policy's check command runs in the guest through the agent (guest-exec, by way of libvirt).
		const policy = Policy.parse({name: 'booted', boot: {check: ['/bin/sh', '-c', 'test -s /etc/snapdeck-guest']}});
		const service = sessionPorts(new LibvirtHypervisor(URI), {repository: repo, policies: async () => () => policy});
		const point = await service.backup(name, {mode: 'full', command: 'test'});
		const result = await service.bootTest(name, {point: point.id, command: 'test'});
		expect(result.ok, result.message).toBe(true);
		expect(result.message).toMatch(
			/the guest agent answered and '\/bin\/sh -c test -s \/etc\/snapdeck-guest' succeeded after \d+\.\d s/,
		);
		expect(await readFile(path.join(repo, name, result.console), 'utf8')).toContain('snapdeck-guest: up');
		expect((await readFile(path.join(repo, name, result.screenshot!))).subarray(1, 4).toString()).toBe('PNG');
		// The throwaway domain is gone; the domain itself was never started.
		expect((await virsh('list', '--all', '--name')).stdout).not.toContain('boottest');
		expect((await virsh('domstate', '--domain', name)).stdout.trim()).toBe('shut off');
	}, 180_000);
});

describe('verify --boot on a remote libvirt host (qemu+ssh to a real sshd on 127.0.0.1)', () => {
	it("copies the point's layers into a private folder beside the domain's images there, boots them, and leaves neither the domain nor the folder; a killed test's folder goes too", async () => {
		const sshd = await startSshd();
		try {
			const uri = `qemu+ssh://root@127.0.0.1:${sshd.port}/system?keyfile=${sshd.keyfile}&no_verify=1`;
			const name = `sdt-rboot-${process.pid}`;
			const {dir} = await guestDomain(
				name,
				"<channel type='unix'><target type='virtio' name='org.qemu.guest_agent.0'/></channel>",
			);
			const repo = await tempDir();
			const service = sessionPorts(await connect(uri), {repository: repo});
			// Running: the second point is an incremental, so the copies there are a chain of two layers (and the overlay).
			// Paused from its start: an active domain takes backups as a running one does, without a
			// second guest booting under software emulation beside the boot test's.
			expect((await virsh('start', '--domain', name, '--paused')).exitCode).toBe(0);
			await service.backup(name, {mode: 'full', command: 'test'});
			const point = await service.backup(name, {mode: 'auto', command: 'test'});
			expect(point.kind).toBe('incremental');
			// What a boot test killed on its way leaves there: the next one removes it.
			const exited = execa('true');
			const dead = exited.pid!;
			await exited;
			const leftover = path.join(
				dir,
				`.snapdeck-boottest-${os.hostname().replace(/[^A-Za-z0-9.-]/g, '_')}-${dead}-abc123`,
			);
			await mkdir(leftover);

			const copied: Array<[number, number]> = [];
			const result = await service.bootTest(name, {
				point: point.id,
				command: 'test',
				onEvent: event => event.type === 'progress' && copied.push([event.bytesDone, event.bytesTotal]),
			});
			expect(result.ok, result.message).toBe(true);
			expect(result.message).toMatch(/the guest agent answered after \d+\.\d s/);
			// The copy there showed its bytes, up to all of the point's layers.
			expect(copied.length).toBeGreaterThan(1);
			expect(copied.at(-1)![0]).toBe(copied.at(-1)![1]);
			expect(copied.at(-1)![1]).toBeGreaterThan(1 << 20);
			expect(await readFile(path.join(repo, name, result.console), 'utf8')).toContain('snapdeck-guest: up');
			expect((await readFile(path.join(repo, name, result.screenshot!))).subarray(1, 4).toString()).toBe('PNG');
			expect((await virsh('list', '--all', '--name')).stdout).not.toContain(`${name}-boottest`);
			expect((await readdir(dir)).filter(entry => entry.startsWith('.snapdeck')).join(' ')).toBe('');
		} finally {
			await sshd.stop();
		}
	}, 240_000);
});

describe('a remote libvirt boot test that cannot start', () => {
	it("a point without the kernel its domain boots is refused before anything is copied there; a kernel that cannot be copied there takes the point's copied layers with it", async () => {
		const sshd = await startSshd();
		try {
			const uri = `qemu+ssh://root@127.0.0.1:${sshd.port}/system?keyfile=${sshd.keyfile}&no_verify=1`;
			const name = `sdt-rnokernel-${process.pid}`;
			const dir = await tempDir();
			const xml = `<domain type='qemu'><name>${name}</name><memory unit='MiB'>64</memory>
<os><type arch='x86_64' machine='q35'>hvm</type><kernel>${dir}/vmlinuz</kernel></os>
<devices><disk type='file' device='disk'><driver name='qemu' type='qcow2'/><source file='${dir}/disk.qcow2'/><target dev='vda' bus='virtio'/></disk></devices></domain>`;
			await qemuImg.create(path.join(dir, 'disk.qcow2'), {size: 1 << 20});
			await writeFile(path.join(dir, 'domain.xml'), xml);
			defined.push(name);
			expect((await virsh('define', '--file', path.join(dir, 'domain.xml'))).exitCode).toBe(0);
			// The point's layer, on this machine.
			const layer = path.join(await tempDir(), 'vda.qcow2');
			await qemuImg.create(layer, {size: 1 << 20});
			const hypervisor = await connect(uri);
			const check = {timeoutMs: 10_000, pattern: null, command: null};
			const leftBeside = async () => (await readdir(dir)).filter(entry => entry.startsWith('.snapdeck')).join(' ');
			// A point of an older snapdeck: no copy of the kernel.
			await expect(
				hypervisor.roles.bootTests!.bootThrowaway(name, xml, {vda: layer}, await tempDir(), check),
			).rejects.toThrow(/does not hold .*vmlinuz/);
			expect(await leftBeside()).toBe('');
			// Its copy of the kernel is gone from this machine: the copy there fails after the layers went.
			const gone = path.join(await tempDir(), 'vmlinuz');
			await expect(
				hypervisor.roles.bootTests!.bootThrowaway(name, xml, {vda: layer}, await tempDir(), check, {
					bootFiles: {[`${dir}/vmlinuz`]: gone},
				}),
			).rejects.toThrow();
			expect(await leftBeside()).toBe('');
			expect((await virsh('list', '--all', '--name')).stdout).not.toContain(`${name}-boottest`);
		} finally {
			await sshd.stop();
		}
	}, 120_000);
});

describe('a libvirt boot test whose snapdeck was killed', () => {
	it('leaves its transient domain to libvirt; the next boot test of the VM destroys it, and passes', async () => {
		const name = `sdt-kill-${process.pid}`;
		await guestDomain(name, '');
		const repo = await tempDir();
		const service = sessionPorts(new LibvirtHypervisor(URI), {repository: repo});
		await service.backup(name, {mode: 'full', command: 'test'});
		const args = ['verify', name, '--boot', '--connect', URI, '--repo', repo];
		const first = execa(path.resolve('bin/snapdeck'), [...args], {reject: false, env: {...process.env, NO_COLOR: '1'}});
		const throwaways = async () =>
			(await virsh('list', '--name')).stdout.split('\n').filter(line => line.startsWith(`${name}-boottest-`));
		for (const deadline = Date.now() + 60_000; (await throwaways()).length === 0;) {
			if (Date.now() > deadline) throw new Error('the throwaway domain never started');
			await new Promise(resolve => setTimeout(resolve, 100));
		}
		first.kill('SIGKILL');
		await first;
		const [left] = await throwaways();
		expect(left).toBeDefined();
		defined.push(left!);
		// Killed while in `virsh create` (most runs; the kill can also come just after), it left the XML it
		// handed libvirt in the temp folder: the next snapdeck removes it.
		const xmlFiles = async () =>
			(await readdir(os.tmpdir())).filter(file => file.startsWith(`snapdeck-xml-${first.pid}-`));
		const killedIn = (await xmlFiles()).length;
		const again = await execa(path.resolve('bin/snapdeck'), [...args], {
			reject: false,
			env: {...process.env, NO_COLOR: '1'},
		});
		expect(again.exitCode, again.stderr).toBe(0);
		expect(await throwaways()).toEqual([]);
		expect(await xmlFiles(), `${killedIn} left by the kill`).toEqual([]);
	}, 180_000);
});

describe('restore --instant on libvirt, with the real Linux guest', () => {
	it('the new domain runs at once from the point while blockpull brings its data in; prune waits; recover after a kill finishes the pull', async () => {
		const name = `sdt-inst-${process.pid}`;
		await guestDomain(name, "<channel type='unix'><target type='virtio' name='org.qemu.guest_agent.0'/></channel>");
		defined.push(`${name}-new`);
		const repo = await tempDir();
		const service = sessionPorts(new LibvirtHypervisor(URI), {repository: repo});
		await service.backup(name, {mode: 'full', command: 'test'});
		const point = await service.backup(name, {mode: 'auto', command: 'test'});
		// 8 MiB/s over the 256 MiB disk: the pull runs for about 30 s; cancelled once the guest answers (as a kill would leave it).
		const cancel = new AbortController();
		let started = 0;
		const restoring = service.restoreInstant(name, {
			point: point.id,
			as: `${name}-new`,
			command: 'test',
			bytesPerSecond: 8 << 20,
			signal: cancel.signal,
			onStarted: () => (started = Date.now()),
		});
		const began = Date.now();
		for (;;) {
			if ((await virsh('qemu-agent-command', '--domain', `${name}-new`, '{"execute":"guest-ping"}')).exitCode === 0)
				break;
			if (Date.now() - began > 90_000) throw new Error('the instantly restored domain never answered');
			await new Promise(resolve => setTimeout(resolve, 500));
		}
		expect(started).toBeGreaterThan(0);
		const prune = service.prune(name, {retention: {last: 1}, command: 'test', confirm: async () => true});
		await expect(prune).rejects.toThrow(`${name}-new was restored instantly and still reads its points`);
		cancel.abort();
		await expect(restoring).rejects.toThrow();
		// Still running from the repository; recover pulls the rest, and the domain stands alone.
		expect((await virsh('domstate', '--domain', `${name}-new`)).stdout.trim()).toBe('running');
		const overlay = (await virsh('domblklist', '--domain', `${name}-new`, '--details')).stdout.match(
			/vda\s+(\S+)/,
		)![1]!;
		expect((await execa('qemu-img', ['info', '-U', '--output=json', overlay])).stdout).toContain(path.join(repo, name));
		await service.recover(`${name}-new`, {command: 'test'});
		expect((await execa('qemu-img', ['info', '-U', '--output=json', overlay])).stdout).not.toContain(
			'backing-filename',
		);
		expect((await virsh('qemu-agent-command', '--domain', `${name}-new`, '{"execute":"guest-ping"}')).exitCode).toBe(0);
		await expect(
			service.prune(name, {retention: {last: 1}, command: 'test', confirm: async () => true}),
		).resolves.toMatchObject({outcome: 'done'});
		const {rm} = await import('node:fs/promises');
		await rm(overlay, {force: true});
	}, 240_000);
});
