import {changedNothing, SnapdeckError} from '../../core/errors.js';
import type {Host} from '../host.js';
import type {VmState} from '../../core/model.js';
import {handleStep, refuseSteps, type Step, type StepExecutor, type StepHandlers} from '../../core/plan.js';
import type {QemuImg} from '../qemu/qemu-img.js';
import {withDiskSources, withSnapshotDomainImages, withSnapshotOverlays} from './domain-edit.js';
import {withXmlFile} from './xml-file.js';
import type {Virsh} from './virsh.js';
import {diskChain, parseDomainXml} from './xml.js';

/**
 * Carries out plans on a libvirt domain. A take is one atomic libvirt call. A revert is done the
 * way LAB.md verified on libvirt 9.0, which refuses external reverts itself: the domain off, a
 * fresh overlay on the snapshot's image, the domain's disks pointed at it, the snapshot redefined
 * as current; internal snapshots revert through libvirt.
 */
export function libvirtExecutor(state: VmState, virsh: Virsh, qemuImg: QemuImg, host: Host): StepExecutor {
	const vm = state.definition.name;
	const domain = ['--domain', vm];
	const reverted = new Set<string>();
	const running = async () => (await virsh.run(['domstate', ...domain])).trim() !== 'shut off';
	const snapshotNames = async () => (await virsh.run(['snapshot-list', ...domain, '--name'])).split('\n').map(line => line.trim()).filter(Boolean);
	const activeOf = (target: string) => state.definition.disks.find(disk => disk.target === target)?.file;
	/** Images a merge hands over: a committed top's role passes to its base. */
	const renames = new Map<string, string>();

	/** The image files of the running domain's chain for a disk, from its live XML (top first). */
	const liveChain = async (target: string) => diskChain(await virsh.run(['dumpxml', ...domain]), target);

	/** A libvirt block job with --wait, its progress read from --verbose, aborted on cancel. */
	async function blockJob(args: string[], target: string, signal: AbortSignal | undefined, onProgress: (fraction: number) => void) {
		const abort = () => void virsh.run(['blockjob', ...domain, target, '--abort']).catch(() => undefined);
		signal?.addEventListener('abort', abort, {once: true});
		try {
			await virsh.run([...args, '--wait', '--verbose'], {
				onStdout: chunk => {
					for (const match of chunk.matchAll(/\[\s*(\d+(?:\.\d+)?)\s*%\]/g)) onProgress(Number(match[1]) / 100);
				},
			});
		} finally {
			signal?.removeEventListener('abort', abort);
		}
		if (signal?.aborted) throw new SnapdeckError('failed', `${args[0]} was cancelled`);
		// QEMU may have rewritten image headers while the copied clusters' tables are still cached:
		// a pause flushes every disk (see flushAll in the local adapter); the guest resumes at once.
		await virsh.run(['suspend', ...domain]);
		await virsh.run(['resume', ...domain]);
	}

	async function writeDefinition(step: Extract<Step, {op: 'write-definition'}>) {
		const next = step.definition;
		const known = new Set(state.definition.snapshots.map(snapshot => snapshot.name));
		const created = next.snapshots.find(snapshot => !known.has(snapshot.name));
		if (created) {
			if ((await snapshotNames()).includes(created.name)) return;
			const args = ['snapshot-create-as', ...domain, '--name', created.name, ...(created.description ? ['--description', created.description] : [])];
			if (created.kind === 'external') {
				args.push('--disk-only', '--atomic', ...(created.quiesced ? ['--quiesce'] : []));
				// virsh splits a diskspec at commas; a comma inside the path is written twice.
				for (const disk of next.disks) args.push('--diskspec', `${disk.target},snapshot=external,file=${disk.file.replaceAll(',', ',,')}`);
			}
			// snapshot-create-as is atomic (--atomic for disk-only; one QEMU savevm otherwise).
			return void (await virsh.run(args).catch((error: Error) => Promise.reject(changedNothing(error))));
		}
		const moved = new Map(next.disks.filter(disk => activeOf(disk.target) !== disk.file).map(disk => [disk.target, disk.file]));
		const removed = state.definition.snapshots.find(snapshot => !next.snapshots.some(candidate => candidate.name === snapshot.name));
		if (moved.size > 0) {
			// A running domain's live disks were pivoted by its block job; its next-boot definition is fixed here.
			if ((await running()) && !removed) throw new SnapdeckError('refused', `${vm} is running; its disks can be repointed only while it is off`, 'the plan stops it first: run snapdeck recover');
			const xml = await virsh.run(['dumpxml', ...domain, '--inactive']);
			const inactive = parseDomainXml(xml).disks;
			const stale = new Map([...moved].filter(([target, file]) => inactive.find(disk => disk.target === target)?.file !== file));
			if (stale.size > 0) await withXmlFile(withDiskSources(xml, stale), file => virsh.run(['define', '--file', file]));
		}
		if (removed) {
			// A merge: libvirt forgets the snapshot (re-parenting its children); snapshots that froze a
			// committed image are redefined to find their data in the image it was committed into.
			if ((await snapshotNames()).includes(removed.name)) await virsh.run(['snapshot-delete', ...domain, '--snapshotname', removed.name, '--metadata']);
			const currentName = (await virsh.run(['snapshot-current', ...domain, '--name']).catch(() => '')).trim();
			for (const snapshot of next.snapshots.filter(candidate => candidate.disks.some(disk => state.definition.snapshots.find(old => old.name === candidate.name)?.disks.some(old => old.target === disk.target && old.file !== disk.file)))) {
				const xml = await virsh.run(['snapshot-dumpxml', ...domain, '--snapshotname', snapshot.name]);
				const redefined = withSnapshotDomainImages(xml, new Map([...renames, ...state.definition.snapshots.find(old => old.name === snapshot.name)!.disks.map(old => [old.file, snapshot.disks.find(disk => disk.target === old.target)!.file] as const)]));
				await withXmlFile(redefined, file => virsh.run(['snapshot-create', ...domain, '--xmlfile', file, '--redefine', ...(snapshot.name === currentName ? ['--current'] : [])]));
			}
			return;
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

	const handlers: StepHandlers = {
		'stop-vm': async () => {
			if (await running()) await virsh.run(['destroy', ...domain]);
		},
		'start-vm': async () => {
			if (!(await running())) await virsh.run(['start', ...domain]);
		},
		// Taken with the metadata, in one libvirt call.
		'internal-create': async () => undefined,
		'create-overlay': async (step, {resuming}) => {
			// A take: libvirt creates the overlay itself, with the metadata. A revert: snapdeck does.
			if (activeOf(step.disk) === step.backing) return;
			if (await host.exists(step.file)) {
				if (!resuming) throw new SnapdeckError('refused', `${step.file} already exists; snapdeck never overwrites an image`);
				await host.remove(step.file);
			}
			return qemuImg.create(step.file, {backing: step.backing});
		},
		'copy-internal': async (step, {signal, onProgress}) => {
			if (await host.exists(step.target)) await host.remove(step.target);
			return qemuImg.convertSnapshot(step.source, step.name, step.target, step.backing, {signal, onProgress});
		},
		'internal-apply': async step => {
			if (reverted.has(step.name)) return;
			await virsh.run(['snapshot-revert', ...domain, '--snapshotname', step.name]);
			reverted.add(step.name);
		},
		'delete-image': step => host.remove(step.file),
		'internal-delete': async step => {
			if (reverted.has(`deleted:${step.name}`)) return;
			if ((await snapshotNames()).includes(step.name)) {
				const deleted = await virsh.run(['snapshot-delete', ...domain, '--snapshotname', step.name]).then(() => true, () => false);
				// libvirt refuses when the image is no longer in the domain's chain: delete it there, then the record.
				if (!deleted) {
					if (!(await running()) || !(await liveChain(step.disk)).includes(step.file)) {
						for (const snapshot of state.definition.snapshots.find(candidate => candidate.name === step.name)?.disks ?? []) {
							if (((await qemuImg.info(snapshot.file)).snapshots ?? []).some(internal => internal.name === step.name)) await qemuImg.snapshotDelete(snapshot.file, step.name);
						}
						await virsh.run(['snapshot-delete', ...domain, '--snapshotname', step.name, '--metadata']);
					} else {
						throw new SnapdeckError('refused', `libvirt could not delete internal snapshot '${step.name}' of the running ${vm}`, 'stop the domain, then run snapdeck recover');
					}
				}
			}
			reverted.add(`deleted:${step.name}`);
		},
		commit: async (step, {signal, onProgress}) => {
			renames.set(step.top, step.base);
			const live = (await running()) ? await liveChain(step.disk) : [];
			if (!live.includes(step.top)) return qemuImg.commit(step.top, {signal, onProgress});
			const active = live[0] === step.top;
			return blockJob(['blockcommit', ...domain, step.disk, '--top', step.top, '--base', step.base, ...(active ? ['--active', '--pivot'] : [])], step.disk, signal, onProgress);
		},
		rebase: async (step, {signal, onProgress}) => {
			const live = (await running()) ? await liveChain(step.disk) : [];
			if (!live.includes(step.file)) return qemuImg.rebase(step.file, step.backing, {signal, onProgress, unsafe: !step.copy});
			const current = (await qemuImg.info(step.file))['full-backing-filename'];
			if ((step.backing === null && current === undefined) || current === step.backing) return; // QEMU rewrote it in the commit below.
			if (!step.copy || live[0] !== step.file) {
				throw new SnapdeckError('refused', `${step.file} is inside the running ${vm}'s chain, where libvirt can only pull into the top image`, 'stop the domain, then run snapdeck recover');
			}
			return blockJob(['blockpull', ...domain, step.disk, ...(step.backing === null ? [] : ['--base', step.backing])], step.disk, signal, onProgress);
		},
		'write-definition': step => writeDefinition(step),
		...refuseSteps(['write-manifest'], op => new Error(`internal: ${op} is not a step for a libvirt domain`)),
	};

	return {
		execute: (step, context) => handleStep(handlers, step, context),
		async rollback(step) {
			// A take makes one atomic libvirt call; a revert's new overlay is removed if it was begun.
			if (step.op === 'create-overlay' && activeOf(step.disk) !== step.backing) await host.remove(step.file);
		},
	};
}
