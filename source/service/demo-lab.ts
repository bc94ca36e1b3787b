import {randomBytes} from 'node:crypto';
import {mkdir, readdir, rename, rm, writeFile} from 'node:fs/promises';
import path from 'node:path';
import {SnapdeckError} from '../core/errors.js';
import {localRunner} from '../adapters/exec.js';
import {fileExists} from '../adapters/file-checks.js';
import {LocalHypervisor} from '../adapters/local/local-hypervisor.js';
import {writeVmFile} from '../adapters/local/vm-file.js';
import {uuidFrom} from '../core/identity.js';
import {QemuImg} from '../adapters/qemu/qemu-img.js';
import {QemuIo} from '../adapters/qemu-io.js';
import {sessionPorts} from './session-ports.js';

const MiB = 1024 * 1024;
/** Every demo write fills one 4 MiB region with one byte value. */
export const REGION = 4 * MiB;

type DemoStep =
	| {readonly write: string; readonly pattern: number; readonly region: number}
	| {readonly take: string; readonly kind: 'external' | 'internal'; readonly description: string}
	| {readonly revert: string};

interface DemoVm {
	readonly name: string;
	readonly description: string;
	/** Started with QEMU (no guest OS) where qemu-system-x86_64 is installed. */
	readonly runs?: boolean;
	readonly disks: ReadonlyArray<{readonly target: string; readonly size: number}>;
	readonly script: readonly DemoStep[];
}

/** The demo lab: a branched external chain, internal snapshots, and a two-disk VM that mixes both. */
export const DEMO_VMS: readonly DemoVm[] = [
	{
		name: 'web1',
		description: 'external chain with a branch: the upgrade failed and was reverted',
		disks: [{target: 'vda', size: 1024 * MiB}],
		script: [
			{write: 'vda', pattern: 0x11, region: 0},
			{take: 'installed', kind: 'external', description: 'fresh OS install'},
			{write: 'vda', pattern: 0x22, region: 1},
			{take: 'configured', kind: 'external', description: 'web server configured'},
			{write: 'vda', pattern: 0x33, region: 2},
			{take: 'pre-upgrade', kind: 'external', description: 'before the distribution upgrade'},
			{write: 'vda', pattern: 0x44, region: 3},
			{revert: 'configured'},
			{write: 'vda', pattern: 0x55, region: 3},
			{take: 'hotfix', kind: 'external', description: 'hotfix applied instead of the upgrade'},
			{write: 'vda', pattern: 0x66, region: 4},
		],
	},
	{
		name: 'db1',
		description: 'internal snapshots inside one qcow2 image',
		disks: [{target: 'vda', size: 512 * MiB}],
		script: [
			{write: 'vda', pattern: 0xa1, region: 0},
			{take: 'nightly-1', kind: 'internal', description: 'nightly'},
			{write: 'vda', pattern: 0xa2, region: 1},
			{take: 'nightly-2', kind: 'internal', description: 'nightly'},
			{write: 'vda', pattern: 0xa3, region: 2},
		],
	},
	{
		name: 'app1',
		description: 'two disks, an external snapshot and an internal one on top',
		disks: [
			{target: 'vda', size: 512 * MiB},
			{target: 'vdb', size: 256 * MiB},
		],
		script: [
			{write: 'vda', pattern: 0xb1, region: 0},
			{write: 'vdb', pattern: 0xc1, region: 0},
			{take: 'before-migration', kind: 'external', description: 'before the schema migration'},
			{write: 'vda', pattern: 0xb2, region: 1},
			{write: 'vdb', pattern: 0xc2, region: 1},
			{take: 'migrated', kind: 'internal', description: 'schema migrated'},
			{write: 'vda', pattern: 0xb3, region: 2},
		],
	},
	{
		name: 'live1',
		description: 'runs in QEMU (no guest OS): live snapshots, merges and reverts',
		runs: true,
		disks: [{target: 'vda', size: 1024 * MiB}],
		script: [
			{write: 'vda', pattern: 0xd1, region: 0},
			{take: 'installed', kind: 'external', description: 'before first boot'},
			{write: 'vda', pattern: 0xd2, region: 1},
		],
	},
];

/** disk -> region -> pattern (0 = never written): what the guest reads. */
export type DiskData = Record<string, Record<number, number>>;

/** What each snapshot of a demo VM holds, and what the VM holds now, from replaying its script. */
export function expectedData(vm: DemoVm): {snapshots: Record<string, DiskData>; now: DiskData} {
	const snapshots: Record<string, DiskData> = {};
	let now: DiskData = Object.fromEntries(vm.disks.map(disk => [disk.target, {}]));
	const copy = (data: DiskData): DiskData => structuredClone(data);
	for (const step of vm.script) {
		if ('write' in step) now[step.write]![step.region] = step.pattern;
		else if ('take' in step) snapshots[step.take] = copy(now);
		else now = copy(snapshots[step.revert]!);
	}
	return {snapshots, now};
}

/** Builds the demo lab in `dir` (through the same planner and executor as every user action). */
export async function buildDemoLab(
	dir: string,
	onVm?: (name: string) => void,
): Promise<{dir: string; created: boolean}> {
	if (await fileExists(path.join(dir, '.snapdeck-demo'))) return {dir, created: false};
	if ((await readdir(dir).catch(() => [])).length > 0) {
		throw new SnapdeckError(
			'input',
			`${dir} already exists and is not a snapdeck demo lab`,
			'choose another --dir, or move that directory away',
		);
	}
	// Build beside the target and rename it into place, so a half-built lab is never left behind.
	const staging = `${dir}.building-${process.pid}`;
	await rm(staging, {recursive: true, force: true});
	await mkdir(staging, {recursive: true});
	try {
		const qemuImg = new QemuImg(localRunner);
		const qemuIo = new QemuIo(localRunner);
		const hypervisor = new LocalHypervisor(staging, undefined, false);
		const service = sessionPorts(hypervisor);
		// Its history: an hour between snapshots, from three days before it is built (so no snapshot is
		// too old for health at first; as the lab ages, its snapshots do, as a real host's would).
		const now = Date.now() - 3 * 86_400_000;
		for (const vm of DEMO_VMS) {
			onVm?.(vm.name);
			const folder = path.join(staging, vm.name);
			await mkdir(folder);
			for (const disk of vm.disks) await qemuImg.create(path.join(folder, `${disk.target}.qcow2`), {size: disk.size});
			await writeVmFile(folder, {
				version: 1,
				name: vm.name,
				uuid: uuidFrom(randomBytes(16)),
				description: vm.description,
				current: null,
				snapshots: [],
				qmp: vm.runs ? 'qmp.sock' : null,
				qemu: vm.runs ? {machine: 'q35', memoryMiB: 128, args: []} : null,
				disks: vm.disks.map(disk => ({target: disk.target, file: `${disk.target}.qcow2`})),
			});
			let tick = 0;
			for (const step of vm.script) {
				const options = {command: 'snapdeck demo', confirm: async () => true};
				if ('write' in step) {
					const {state} = await hypervisor.inspect(vm.name);
					const active = state.definition.disks.find(disk => disk.target === step.write)!.file;
					await qemuIo.write(path.join(folder, active), step.pattern, step.region * REGION, REGION);
				} else if ('take' in step) {
					const request = {
						name: step.take,
						kind: step.kind,
						description: step.description,
						now: new Date(now + ++tick * 3_600_000),
					};
					await service.perform({kind: 'take', vm: vm.name, request}, options);
				} else {
					await service.perform({kind: 'revert', vm: vm.name, snapshot: step.revert}, options);
				}
			}
		}
		await writeFile(path.join(staging, '.snapdeck-demo'), 'built by snapdeck demo\n');
		await mkdir(path.dirname(dir), {recursive: true});
		await rename(staging, dir);
	} catch (error) {
		await rm(staging, {recursive: true, force: true});
		throw error;
	}
	return {dir, created: true};
}

/**
 * Starts the demo VMs that run (where qemu-system-x86_64 is installed); resolves to those now
 * running and, when QEMU is missing, why none could start.
 */
export async function startDemoVms(dir: string): Promise<{running: string[]; note: string | null}> {
	const service = sessionPorts(new LocalHypervisor(dir));
	const running: string[] = [];
	for (const vm of DEMO_VMS.filter(candidate => candidate.runs)) {
		try {
			await service.power(vm.name, true, 'snapdeck demo');
			running.push(vm.name);
		} catch (error) {
			if (error instanceof SnapdeckError && error.kind === 'tool')
				return {running, note: `${vm.name} stays stopped: ${error.message} (${error.hint ?? ''})`};
			throw error;
		}
	}
	return {running, note: null};
}
