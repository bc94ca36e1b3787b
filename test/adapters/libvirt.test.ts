import {access} from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import {describe, expect, it} from 'vitest';
import {jsonOf, snapdeck} from '../helpers/cli.js';
import {damageL2, MiB, qemuImg, qemuIo} from '../helpers/lab.js';
import {countingVirsh, libvirtDomain, URI, virsh} from '../helpers/libvirt.js';

const exists = (file: string) =>
	access(file).then(
		() => true,
		() => false,
	);

/** A running domain whose e1 holds A, e2 holds A and B, and whose present state also holds C. */
async function threeStates() {
	const domain = await libvirtDomain();
	await domain.guestWrite(0xa1, 1);
	await domain.take('e1');
	await domain.guestWrite(0xb2, 2);
	await domain.take('e2');
	await domain.guestWrite(0xc3, 3);
	return domain;
}

describe('the libvirt adapter, against a real libvirtd', () => {
	it('lists domains with state, disks, snapshot count and chain depth, from one batched virsh', async () => {
		const running = await libvirtDomain();
		const stopped = await libvirtDomain({running: false});
		await running.take('e1');
		const vms = await running.service.list();
		const mine = vms.filter(vm => vm.name === running.name || vm.name === stopped.name);
		expect(mine).toEqual([
			expect.objectContaining({
				name: running.name,
				state: 'running',
				snapshots: 1,
				chainDepth: 2,
				current: 'e1',
				error: null,
			}),
			expect.objectContaining({
				name: stopped.name,
				state: 'stopped',
				snapshots: 0,
				chainDepth: 1,
				current: null,
				error: null,
			}),
		]);
		expect(mine[0]!.disks).toEqual([
			expect.objectContaining({target: 'vda', file: path.join(running.dir, `${running.name}-vda.e1.qcow2`)}),
		]);
	});

	it('takes an external snapshot of a running domain: the frozen image keeps A, the overlay gets B', async () => {
		const domain = await libvirtDomain();
		await domain.guestWrite(0xa1, 1);
		const {plan} = await domain.take('e1', {description: 'before the upgrade'});
		expect(plan.steps.map(step => step.op)).toEqual(['create-overlay', 'write-definition']);
		await domain.guestWrite(0xb2, 1);
		const overlay = await domain.activeFile();
		expect(overlay).toBe(path.join(domain.dir, `${domain.name}-vda.e1.qcow2`));
		expect(await domain.reads(domain.image, 0xa1, 1)).toBe(true);
		expect(await domain.reads(overlay, 0xb2, 1)).toBe(true);
		// libvirt and snapdeck agree on the tree.
		const tree = await domain.service.tree(domain.name);
		expect(tree.current).toBe('e1');
		expect(tree.snapshots).toEqual([
			expect.objectContaining({
				name: 'e1',
				kind: 'external',
				description: 'before the upgrade',
				parent: null,
				disks: [{target: 'vda', file: domain.image}],
			}),
		]);
		expect((await virsh('snapshot-current', '--domain', domain.name, '--name')).stdout.trim()).toBe('e1');
	});

	it('takes a snapshot with memory of a running domain, and an external one of a stopped domain', async () => {
		const running = await libvirtDomain();
		await running.take('m1', {memory: true});
		const info = await qemuImg.info(await running.activeFile());
		expect(info.snapshots?.find(snapshot => snapshot.name === 'm1')?.['vm-state-size']).toBeGreaterThan(0);
		const tree = await running.service.tree(running.name);
		expect(tree.snapshots).toEqual([expect.objectContaining({name: 'm1', kind: 'internal', memory: true})]);

		const stopped = await libvirtDomain({running: false});
		await stopped.take('off1');
		expect(await stopped.activeFile()).toBe(path.join(stopped.dir, `${stopped.name}-vda.off1.qcow2`));
		expect((await qemuImg.info(await stopped.activeFile()))['full-backing-filename']).toBe(stopped.image);
	});

	it('reverts a running domain to an external snapshot, which libvirt 9.0 refuses to do itself', async () => {
		const domain = await libvirtDomain();
		await domain.guestWrite(0xa1, 1);
		await domain.take('e1');
		await domain.guestWrite(0xb2, 1);
		const {plan} = await domain.revert('e1');
		expect(plan.steps.map(step => step.op)).toEqual([
			'stop-vm',
			'create-overlay',
			'write-definition',
			'delete-image',
			'start-vm',
		]);
		// What the discarded overlay holds, read on the running domain's image: the 1 MiB written since e1.
		expect(plan.discards).toEqual([expect.stringMatching(/the data of vda written since 'e1' \(1\.0 MiB\)$/)]);
		const active = await domain.activeFile();
		expect(await domain.reads(active, 0xa1, 1)).toBe(true);
		expect((await virsh('domstate', '--domain', domain.name)).stdout.trim()).toBe('running');
		// libvirt agrees: e1 is current, and its record names the image the domain runs on now.
		expect((await virsh('snapshot-current', '--domain', domain.name, '--name')).stdout.trim()).toBe('e1');
		expect((await virsh('snapshot-dumpxml', '--domain', domain.name, '--snapshotname', 'e1')).stdout).toContain(
			`<source file='${active}'/>`,
		);
		// And once more, from the reverted state.
		await domain.guestWrite(0xc3, 1);
		await domain.revert('e1');
		expect(await domain.reads(await domain.activeFile(), 0xa1, 1)).toBe(true);
	});

	it('reverts to a snapshot with memory without a restart, and a stopped domain to an external one', async () => {
		const running = await libvirtDomain();
		await running.guestWrite(0xa1, 1);
		await running.take('m1', {memory: true});
		await running.guestWrite(0xb2, 1);
		const {plan} = await running.revert('m1');
		expect(plan.steps.map(step => step.op)).toEqual(['internal-apply', 'write-definition']);
		expect(await running.reads(await running.activeFile(), 0xa1, 1)).toBe(true);
		expect((await virsh('domstate', '--domain', running.name)).stdout.trim()).toBe('running');

		const stopped = await libvirtDomain({running: false});
		await stopped.take('off1');
		await stopped.revert('off1');
		expect((await virsh('domstate', '--domain', stopped.name)).stdout.trim()).toBe('shut off');
		expect((await virsh('snapshot-current', '--domain', stopped.name, '--name')).stdout.trim()).toBe('off1');
	});

	it("merges a middle snapshot and then the current one of a running domain, keeping every other snapshot's data", async () => {
		const domain = await threeStates();

		const middle = await domain.merge('e1');
		expect(middle.plan.steps[0]!.op).toBe('commit');
		expect((await virsh('domstate', '--domain', domain.name)).stdout.trim()).toBe('running');
		expect((await virsh('snapshot-list', '--domain', domain.name, '--name')).stdout.trim()).toBe('e2');
		const active = await domain.activeFile();
		expect([
			await domain.reads(active, 0xa1, 1),
			await domain.reads(active, 0xb2, 2),
			await domain.reads(active, 0xc3, 3),
		]).toEqual([true, true, true]);

		// e2 was taken on the image just merged away: libvirt's record of it must now name the image it went into.
		const current = await domain.merge('e2');
		expect(current.plan.steps[0]!.op).toBe('commit');
		expect((await virsh('snapshot-list', '--domain', domain.name, '--name')).stdout.trim()).toBe('');
		expect(await domain.activeFile()).toBe(domain.image);
		expect((await virsh('dumpxml', '--domain', domain.name, '--inactive')).stdout).toContain(
			`<source file='${domain.image}'/>`,
		);
		expect([
			await domain.reads(domain.image, 0xa1, 1),
			await domain.reads(domain.image, 0xb2, 2),
			await domain.reads(domain.image, 0xc3, 3),
		]).toEqual([true, true, true]);
	});

	it('merges a middle snapshot, then reverts to the one taken on its image', async () => {
		const domain = await threeStates();
		await domain.merge('e1');
		await domain.revert('e2');
		const active = await domain.activeFile();
		expect([
			await domain.reads(active, 0xa1, 1),
			await domain.reads(active, 0xb2, 2),
			await domain.reads(active, 0xc3, 3),
		]).toEqual([true, true, false]);
	});

	it('deletes an internal snapshot, and merges on a stopped domain', async () => {
		const running = await libvirtDomain();
		await running.take('m1', {memory: true});
		await running.merge('m1');
		expect((await qemuImg.info(await running.activeFile())).snapshots ?? []).toEqual([]);
		expect((await virsh('snapshot-list', '--domain', running.name, '--name')).stdout.trim()).toBe('');

		const stopped = await libvirtDomain({running: false});
		await stopped.take('off1');
		await stopped.merge('off1');
		expect(await stopped.activeFile()).toBe(stopped.image);
		expect((await virsh('snapshot-list', '--domain', stopped.name, '--name')).stdout.trim()).toBe('');
	});

	it('refuses the merge that loses data in a mixed tree, and changes nothing', async () => {
		const domain = await libvirtDomain();
		await domain.take('e1');
		await domain.take('m1', {memory: true});
		const before = await domain.activeFile();
		const merge = await snapdeck(['merge', domain.name, 'e1', '--yes', '--connect', URI]);
		expect(merge.exitCode).toBe(1);
		expect(merge.stderr).toContain('holds internal snapshots m1');
		expect(await domain.activeFile()).toBe(before);
		expect((await virsh('snapshot-list', '--domain', domain.name, '--name')).stdout.trim().split('\n')).toEqual([
			'e1',
			'm1',
		]);
	});

	it("finds an overlay on the domain's images that no snapshot or disk uses", async () => {
		const domain = await libvirtDomain({running: false});
		await domain.take('e1');
		const stray = path.join(domain.dir, 'made-by-hand.qcow2');
		await qemuImg.create(stray, {backing: domain.image});
		const {findings, problems} = await domain.hypervisor.inspect(domain.name);
		expect(problems).toEqual([]);
		expect(findings).toEqual([
			expect.stringContaining(`${stray} is an overlay on ${domain.name}'s images that no disk or snapshot uses`),
		]);
	});

	it('--quiesce without a guest agent is refused before anything changes, offering the choice', async () => {
		const domain = await libvirtDomain();
		const run = await snapdeck(['snapshot', domain.name, 'q1', '--quiesce', '--yes', '--connect', URI]);
		expect(run.exitCode).toBe(1);
		expect(run.stderr).toContain(
			`cannot quiesce ${domain.name}: argument unsupported: QEMU guest agent is not configured`,
		);
		expect(run.stderr).toContain('take it unquiesced (leave out --quiesce), or cancel');
		expect((await virsh('snapshot-list', '--domain', domain.name, '--name')).stdout.trim()).toBe('');
		expect(await domain.activeFile()).toBe(domain.image);
	});

	it('a hostile domain name is listed as unmanageable, injects nothing, and is refused as an argument', async () => {
		// libvirt refuses '/' in a name, so the would-be injection writes into the working directory.
		const marker = `snapdeck-injected-${process.pid}`;
		const hostile = `sd t;$(touch ${marker})'\`touch ${marker}\`-${process.pid}`;
		const domain = await libvirtDomain({name: hostile, running: false});
		const list = await snapdeck(['list', '--json', '--connect', URI]);
		const row = (jsonOf(list)['vms'] as Array<{name: string; error: string | null; state: string}>).find(
			vm => vm.name === domain.name,
		);
		expect(row).toMatchObject({
			state: 'stopped',
			error: expect.stringContaining('snapdeck cannot manage a domain named like this'),
		});
		const tree = await snapdeck(['tree', hostile, '--connect', URI]);
		expect([tree.exitCode, tree.stderr]).toEqual([2, expect.stringContaining('invalid VM name')]);
		expect(await exists(path.resolve(marker))).toBe(false);
		expect(await exists(path.join(os.homedir(), marker))).toBe(false);
	});
});

describe('what a command asks libvirt', () => {
	it("a take of a running domain: one virsh, its inventory, its snapshots' XML, then the create", async () => {
		const domain = await libvirtDomain();
		await domain.take('e1');
		const virshes = await countingVirsh();
		expect((await snapdeck(['snapshot', domain.name, 'e2', '--yes', '--connect', URI], virshes.env)).exitCode).toBe(0);
		const take = await virshes.count();
		// No job queries (a take touches only active images, which a running domain's preflight never
		// judges from outside) and no second look for e2 before its create (the lock is held since the inspection).
		expect(take).toMatchObject({processes: 1, roundTrips: 3});
		expect(take.commands.map(command => command.split(' ')[0])).toEqual([
			"'domstate'",
			"'dumpxml'",
			"'snapshot-list'",
			"'snapshot-current'",
			"'snapshot-dumpxml'",
			"'snapshot-create-as'",
		]);
		expect((await virsh('snapshot-current', '--domain', domain.name, '--name')).stdout.trim()).toBe('e2');
		expect(await domain.activeFile()).toBe(path.join(domain.dir, `${domain.name}-vda.e2.qcow2`));
	});

	it('a list: one virsh, two batches, and of each domain only its XML and, where it has snapshots, their names and the current one', async () => {
		const domain = await libvirtDomain();
		const stopped = await libvirtDomain({running: false});
		await domain.take('e1');
		const virshes = await countingVirsh();
		const vms = jsonOf(await snapdeck(['list', '--json', '--connect', URI], virshes.env))['vms'] as Array<
			Record<string, unknown>
		>;
		expect(vms.find(vm => vm['name'] === domain.name)).toMatchObject({
			state: 'running',
			snapshots: 1,
			current: 'e1',
			chainDepth: 2,
			error: null,
		});
		expect(vms.find(vm => vm['name'] === stopped.name)).toMatchObject({
			state: 'stopped',
			snapshots: 0,
			current: null,
			chainDepth: 1,
			error: null,
		});
		const list = await virshes.count();
		expect(list).toMatchObject({processes: 1, roundTrips: 2});
		// States, and which domains have no snapshots, come from lists of all domains (one libvirt call each).
		const asked = (name: string) =>
			list.commands.filter(command => command.includes(`'--domain' '${name}'`)).map(command => command.split(' ')[0]);
		expect(asked(domain.name)).toEqual(["'dumpxml'", "'snapshot-list'", "'snapshot-current'"]);
		expect(asked(stopped.name)).toEqual(["'dumpxml'"]);
	});
});

describe('qemu:///session, the unprivileged libvirt (here as root, whose session libvirtd virsh starts)', () => {
	it('lists, snapshots, reverts and merges a domain of the session connection', async () => {
		const dom = await libvirtDomain({uri: 'qemu:///session', running: false});
		await qemuIo.write(dom.image, 0xa1, MiB, MiB);
		await dom.take('s1');
		await qemuIo.write(await dom.activeFile(), 0xb2, MiB, MiB);
		const listed = (await dom.hypervisor.list()).find(vm => vm.name === dom.name)!;
		expect(listed).toMatchObject({state: 'stopped', snapshots: 1, chainDepth: 2, error: null});
		await dom.revert('s1');
		expect(await dom.reads(await dom.activeFile(), 0xa1, 1)).toBe(true);
		await dom.merge('s1');
		expect((await dom.hypervisor.list()).find(vm => vm.name === dom.name)).toMatchObject({snapshots: 0});
		expect(await dom.reads(await dom.activeFile(), 0xa1, 1)).toBe(true);
	});
});

describe('the one preflight, on libvirt', () => {
	it('refuses to merge into a frozen image whose tables are damaged (qemu-img check), changing nothing; the running top is not judged from outside', async () => {
		const domain = await libvirtDomain();
		await domain.guestWrite(0xa1, 1);
		await domain.take('e1');
		await domain.guestWrite(0xb2, 2);
		// The frozen disk.qcow2 still opens, but qemu-img check finds its tables damaged.
		await damageL2(domain.image);
		const before = await domain.activeFile();

		await expect(domain.merge('e1')).rejects.toMatchObject({
			code: 'damaged',
			message: expect.stringMatching(/disk\.qcow2 is damaged \(\d+ corruptions/),
		});
		expect(await domain.activeFile()).toBe(before);
		expect((await virsh('snapshot-list', '--domain', domain.name, '--name')).stdout).toContain('e1');
		expect((await virsh('domstate', '--domain', domain.name)).stdout.trim()).toBe('running');
	});
});

describe('roles on libvirt', () => {
	it('power: stop powers a running domain off through the job runner (journalled), and a second stop changes nothing', async () => {
		const domain = await libvirtDomain();
		expect(await domain.service.power(domain.name, false, 'test')).toBe(true);
		expect((await virsh('domstate', '--domain', domain.name)).stdout.trim()).toBe('shut off');
		expect(await domain.service.power(domain.name, false, 'test')).toBe(false);
		expect(await domain.service.power(domain.name, true, 'test')).toBe(true);
		expect((await virsh('domstate', '--domain', domain.name)).stdout.trim()).toBe('running');
		// Every role this connection has is there; a local libvirt host lacks none.
		expect(Object.keys(domain.hypervisor.roles).sort()).toEqual([
			'archives',
			'backups',
			'bootTests',
			'guestAgents',
			'imageChecks',
			'inPlaceRestores',
			'instantRestores',
			'power',
			'restores',
			'watching',
		]);
		expect(domain.hypervisor.unavailable).toEqual({});
	});
});
