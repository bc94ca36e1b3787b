import {randomBytes} from 'node:crypto';
import {access, rm, writeFile} from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import {changedNothing, SnapdeckError} from '../../core/errors.js';
import type {VmState} from '../../core/model.js';
import type {Step, StepExecutor} from '../../core/plan.js';
import type {QemuImg} from '../qemu-img.js';
import {withDiskSources, withSnapshotOverlays} from './domain-edit.js';
import type {Virsh} from './virsh.js';

const exists = (file: string) => access(file).then(() => true, () => false);

/** Hands libvirt an XML document through a private temp file, removed afterwards. */
async function withXmlFile<T>(xml: string, use: (file: string) => Promise<T>): Promise<T> {
	const file = path.join(os.tmpdir(), `snapdeck-${randomBytes(6).toString('hex')}.xml`);
	await writeFile(file, xml, {mode: 0o600});
	try {
		return await use(file);
	} finally {
		await rm(file, {force: true});
	}
}

/**
 * Carries out plans on a libvirt domain. A take is one atomic libvirt call. A revert is done the
 * way LAB.md verified on libvirt 9.0, which refuses external reverts itself: the domain off, a
 * fresh overlay on the snapshot's image, the domain's disks pointed at it, the snapshot redefined
 * as current; internal snapshots revert through libvirt.
 */
export function libvirtExecutor(state: VmState, virsh: Virsh, qemuImg: QemuImg): StepExecutor {
	const vm = state.definition.name;
	const domain = ['--domain', vm];
	const reverted = new Set<string>();
	const running = async () => (await virsh.run(['domstate', ...domain])).trim() !== 'shut off';
	const snapshotNames = async () => (await virsh.run(['snapshot-list', ...domain, '--name'])).split('\n').map(line => line.trim()).filter(Boolean);
	const activeOf = (target: string) => state.definition.disks.find(disk => disk.target === target)?.file;

	async function writeDefinition(step: Extract<Step, {op: 'write-definition'}>) {
		const next = step.definition;
		const known = new Set(state.definition.snapshots.map(snapshot => snapshot.name));
		const created = next.snapshots.find(snapshot => !known.has(snapshot.name));
		if (created) {
			if ((await snapshotNames()).includes(created.name)) return;
			const args = ['snapshot-create-as', ...domain, '--name', created.name, ...(created.description ? ['--description', created.description] : [])];
			if (created.kind === 'external') {
				args.push('--disk-only', '--atomic');
				// virsh splits a diskspec at commas; a comma inside the path is written twice.
				for (const disk of next.disks) args.push('--diskspec', `${disk.target},snapshot=external,file=${disk.file.replaceAll(',', ',,')}`);
			}
			// snapshot-create-as is atomic (--atomic for disk-only; one QEMU savevm otherwise).
			return void (await virsh.run(args).catch((error: Error) => Promise.reject(changedNothing(error))));
		}
		const moved = new Map(next.disks.filter(disk => activeOf(disk.target) !== disk.file).map(disk => [disk.target, disk.file]));
		if (moved.size > 0) {
			if (await running()) throw new SnapdeckError('refused', `${vm} is running; its disks can be repointed only while it is off`, 'the plan stops it first: run snapdeck recover');
			const xml = await virsh.run(['dumpxml', ...domain, '--inactive']);
			await withXmlFile(withDiskSources(xml, moved), file => virsh.run(['define', '--file', file]));
		}
		const current = next.current;
		const snapshot = state.definition.snapshots.find(candidate => candidate.name === current);
		if (current === null || !snapshot || reverted.has(current)) return;
		if (snapshot.kind === 'external') {
			const xml = await virsh.run(['snapshot-dumpxml', ...domain, '--snapshotname', current]);
			const overlays = new Map(next.disks.map(disk => [disk.target, disk.file]));
			await withXmlFile(withSnapshotOverlays(xml, overlays), file => virsh.run(['snapshot-create', ...domain, '--xmlfile', file, '--redefine', '--current']));
		} else {
			await virsh.run(['snapshot-current', ...domain, '--snapshotname', current]);
		}
	}

	return {
		async execute(step, {resuming, signal, onProgress}) {
			switch (step.op) {
				case 'stop-vm':
					if (await running()) await virsh.run(['destroy', ...domain]);
					return;
				case 'start-vm':
					if (!(await running())) await virsh.run(['start', ...domain]);
					return;
				case 'internal-create':
					return; // Taken with the metadata, in one libvirt call.
				case 'create-overlay': {
					// A take: libvirt creates the overlay itself, with the metadata. A revert: snapdeck does.
					if (activeOf(step.disk) === step.backing) return;
					if (await exists(step.file)) {
						if (!resuming) throw new SnapdeckError('refused', `${step.file} already exists; snapdeck never overwrites an image`);
						await rm(step.file);
					}
					return qemuImg.create(step.file, {backing: step.backing});
				}
				case 'copy-internal':
					if (await exists(step.target)) await rm(step.target);
					return qemuImg.convertSnapshot(step.source, step.name, step.target, step.backing, {signal, onProgress});
				case 'internal-apply':
					if (reverted.has(step.name)) return;
					await virsh.run(['snapshot-revert', ...domain, '--snapshotname', step.name]);
					reverted.add(step.name);
					return;
				case 'delete-image':
					return rm(step.file, {force: true});
				case 'write-definition':
					return writeDefinition(step);
				default:
					throw new SnapdeckError('refused', `${step.op} is not built yet for libvirt domains`);
			}
		},
		async rollback(step) {
			// A take makes one atomic libvirt call; a revert's new overlay is removed if it was begun.
			if (step.op === 'create-overlay' && activeOf(step.disk) !== step.backing) await rm(step.file, {force: true});
		},
	};
}
