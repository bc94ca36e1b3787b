import {changedNothing, SnapdeckError} from '../../core/errors.js';
import type {Host} from '../host.js';
import type {VmState} from '../../core/model.js';
import {handleStep, refuseSteps, type Step, type StepExecutor, type StepHandlers} from '../../core/plan.js';
import type {QemuImg} from '../qemu/qemu-img.js';
import {hostImages} from '../qemu/image-folder.js';
import {qcow2InternalStore} from '../qemu/qcow2-internal-store.js';
import {qcow2OverlayStore} from '../qemu/qcow2-overlay-store.js';
import {withDiskSources, withSnapshotDomainImages, withSnapshotOverlays} from './domain-edit.js';
import {withXmlFile} from './xml-file.js';
import type {Virsh} from './virsh.js';
import {diskChain, parseDomainXml} from './xml.js';

/** What every step of one plan on one domain shares: the tools, the domain as inspected, and what earlier steps did. */
interface Domain {
	readonly state: VmState;
	readonly virsh: Virsh;
	readonly qemuImg: QemuImg;
	readonly host: Host;
	readonly vm: string;
	/** `--domain NAME`, for virsh. */
	readonly arg: readonly string[];
	/** Internal snapshots reverted to or deleted by this plan (a resumed step is not done twice). */
	readonly done: Set<string>;
	/** Images a merge hands over: a committed top's role passes to its base. */
	readonly renames: Map<string, string>;
	/** The snapshot stores, for the images no running domain holds (qemu-img on the host). */
	readonly overlays: ReturnType<typeof qcow2OverlayStore>;
	readonly internal: ReturnType<typeof qcow2InternalStore>;
}

const running = async (d: Domain) => (await d.virsh.run(['domstate', ...d.arg])).trim() !== 'shut off';
const snapshotNames = async (d: Domain) =>
	(await d.virsh.run(['snapshot-list', ...d.arg, '--name']))
		.split('\n')
		.map(line => line.trim())
		.filter(Boolean);
const activeOf = (d: Domain, target: string) => d.state.definition.disks.find(disk => disk.target === target)?.file;
/** The image files of the running domain's chain for a disk, from its live XML (top first). */
const liveChain = async (d: Domain, target: string) => diskChain(await d.virsh.run(['dumpxml', ...d.arg]), target);

/** A libvirt block job with --wait, its progress read from --verbose, aborted on cancel. */
async function blockJob(
	d: Domain,
	args: string[],
	target: string,
	signal: AbortSignal | undefined,
	onProgress: (fraction: number) => void,
) {
	const abort = () => void d.virsh.run(['blockjob', ...d.arg, target, '--abort']).catch(() => undefined);
	signal?.addEventListener('abort', abort, {once: true});
	try {
		await d.virsh.run([...args, '--wait', '--verbose'], {
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
	await d.virsh.run(['suspend', ...d.arg]);
	await d.virsh.run(['resume', ...d.arg]);
}

type Definition = Extract<Step, {op: 'write-definition'}>['definition'];

/**
 * A take: one atomic libvirt call makes the snapshot, its overlays (external) and its metadata.
 * Only a resumed take asks whether it was made already: a fresh one planned from an inspection,
 * under the lock, that found no such snapshot (and libvirt refuses a second of the same name).
 */
async function createSnapshot(
	d: Domain,
	created: Definition['snapshots'][number],
	next: Definition,
	resuming: boolean,
) {
	if (resuming && (await snapshotNames(d)).includes(created.name)) return;
	const args = [
		'snapshot-create-as',
		...d.arg,
		'--name',
		created.name,
		...(created.description ? ['--description', created.description] : []),
	];
	if (created.kind === 'external') {
		args.push('--disk-only', '--atomic', ...(created.quiesced ? ['--quiesce'] : []));
		// virsh splits a diskspec at commas; a comma inside the path is written twice.
		for (const disk of next.disks)
			args.push('--diskspec', `${disk.target},snapshot=external,file=${disk.file.replaceAll(',', ',,')}`);
	}
	// snapshot-create-as is atomic (--atomic for disk-only; one QEMU savevm otherwise).
	await d.virsh.run(args).catch((error: Error) => Promise.reject(changedNothing(error)));
}

/** The domain's next-boot definition pointed at new images (a running domain's live disks were pivoted by its block job). */
async function repointDisks(d: Domain, moved: ReadonlyMap<string, string>, merging: boolean) {
	if ((await running(d)) && !merging)
		throw new SnapdeckError(
			'refused',
			`${d.vm} is running; its disks can be repointed only while it is off`,
			'the plan stops it first: run snapdeck recover',
		);
	const xml = await d.virsh.run(['dumpxml', ...d.arg, '--inactive']);
	const inactive = parseDomainXml(xml).disks;
	const stale = new Map(
		[...moved].filter(([target, file]) => inactive.find(disk => disk.target === target)?.file !== file),
	);
	if (stale.size > 0) await withXmlFile(withDiskSources(xml, stale), file => d.virsh.run(['define', '--file', file]));
}

/**
 * A merge: libvirt forgets the snapshot (re-parenting its children); snapshots that froze a
 * committed image are redefined to find their data in the image it was committed into.
 */
async function forgetMerged(d: Domain, removed: string, next: Definition) {
	if ((await snapshotNames(d)).includes(removed))
		await d.virsh.run(['snapshot-delete', ...d.arg, '--snapshotname', removed, '--metadata']);
	const currentName = (await d.virsh.run(['snapshot-current', ...d.arg, '--name']).catch(() => '')).trim();
	const old = (name: string) => d.state.definition.snapshots.find(snapshot => snapshot.name === name);
	const moved = next.snapshots.filter(snapshot =>
		snapshot.disks.some(disk =>
			old(snapshot.name)?.disks.some(before => before.target === disk.target && before.file !== disk.file),
		),
	);
	for (const snapshot of moved) {
		const xml = await d.virsh.run(['snapshot-dumpxml', ...d.arg, '--snapshotname', snapshot.name]);
		const images = new Map([
			...d.renames,
			...old(snapshot.name)!.disks.map(
				before => [before.file, snapshot.disks.find(disk => disk.target === before.target)!.file] as const,
			),
		]);
		await withXmlFile(withSnapshotDomainImages(xml, images), file =>
			d.virsh.run([
				'snapshot-create',
				...d.arg,
				'--xmlfile',
				file,
				'--redefine',
				...(snapshot.name === currentName ? ['--current'] : []),
			]),
		);
	}
}

/** A revert's last word: the snapshot reverted to is current again, an external one with the fresh overlays as its disks. */
async function setCurrent(d: Domain, next: Definition) {
	const current = next.current;
	const snapshot = d.state.definition.snapshots.find(candidate => candidate.name === current);
	if (current === null || !snapshot || d.done.has(current)) return;
	if (snapshot.kind === 'external') {
		const xml = await d.virsh.run(['snapshot-dumpxml', ...d.arg, '--snapshotname', current]);
		const overlays = new Map(next.disks.map(disk => [disk.target, disk.file]));
		await withXmlFile(withSnapshotOverlays(xml, overlays), file =>
			d.virsh.run(['snapshot-create', ...d.arg, '--xmlfile', file, '--redefine', '--current']),
		);
	} else {
		await d.virsh.run(['snapshot-current', ...d.arg, '--snapshotname', current]);
	}
}

/** The definition a plan ends with, in libvirt's terms: a new snapshot, repointed disks, a forgotten one, or the current one. */
async function writeDefinition(d: Domain, next: Definition, resuming: boolean) {
	const known = new Set(d.state.definition.snapshots.map(snapshot => snapshot.name));
	const created = next.snapshots.find(snapshot => !known.has(snapshot.name));
	if (created) return createSnapshot(d, created, next, resuming);
	const moved = new Map(
		next.disks.filter(disk => activeOf(d, disk.target) !== disk.file).map(disk => [disk.target, disk.file]),
	);
	const removed = d.state.definition.snapshots.find(
		snapshot => !next.snapshots.some(candidate => candidate.name === snapshot.name),
	);
	if (moved.size > 0) await repointDisks(d, moved, removed !== undefined);
	if (removed) return forgetMerged(d, removed.name, next);
	return setCurrent(d, next);
}

/** An internal snapshot deleted; where libvirt refuses (its image no longer in the chain), in the image, then the record. */
async function deleteInternal(d: Domain, step: Extract<Step, {op: 'internal-delete'}>) {
	if (d.done.has(`deleted:${step.name}`)) return;
	if ((await snapshotNames(d)).includes(step.name)) {
		const deleted = await d.virsh.run(['snapshot-delete', ...d.arg, '--snapshotname', step.name]).then(
			() => true,
			() => false,
		);
		if (!deleted) {
			if ((await running(d)) && (await liveChain(d, step.disk)).includes(step.file)) {
				throw new SnapdeckError(
					'refused',
					`libvirt could not delete internal snapshot '${step.name}' of the running ${d.vm}`,
					'stop the domain, then run snapdeck recover',
				);
			}
			for (const disk of d.state.definition.snapshots.find(candidate => candidate.name === step.name)?.disks ?? []) {
				await d.internal.handlers['internal-delete'](
					{...step, disk: disk.target, file: disk.file},
					{resuming: true, onProgress: () => undefined},
				);
			}
			await d.virsh.run(['snapshot-delete', ...d.arg, '--snapshotname', step.name, '--metadata']);
		}
	}
	d.done.add(`deleted:${step.name}`);
}

/**
 * One function per step kind: what libvirt does itself (the metadata, a take, an internal revert,
 * block jobs on a running domain's chain), and the snapshot stores' work for the rest.
 */
function handlers(d: Domain): StepHandlers {
	return {
		'stop-vm': async () => {
			if (await running(d)) await d.virsh.run(['destroy', ...d.arg]);
		},
		'start-vm': async () => {
			if (!(await running(d))) await d.virsh.run(['start', ...d.arg]);
		},
		// Taken with the metadata, in one libvirt call.
		'internal-create': async () => undefined,
		'create-overlay': async (step, context) => {
			// A take: libvirt creates the overlay itself, with the metadata. A revert: the store does.
			if (activeOf(d, step.disk) === step.backing) return;
			return d.overlays.handlers['create-overlay'](step, context);
		},
		'copy-internal': (step, context) => d.internal.handlers['copy-internal'](step, context),
		'internal-apply': async step => {
			if (d.done.has(step.name)) return;
			await d.virsh.run(['snapshot-revert', ...d.arg, '--snapshotname', step.name]);
			d.done.add(step.name);
		},
		'delete-image': (step, context) => d.overlays.handlers['delete-image'](step, context),
		'internal-delete': step => deleteInternal(d, step),
		commit: async (step, context) => {
			const {signal, onProgress} = context;
			d.renames.set(step.top, step.base);
			const live = (await running(d)) ? await liveChain(d, step.disk) : [];
			if (!live.includes(step.top)) return d.overlays.handlers.commit(step, context);
			const active = live[0] === step.top;
			return blockJob(
				d,
				[
					'blockcommit',
					...d.arg,
					step.disk,
					'--top',
					step.top,
					'--base',
					step.base,
					...(active ? ['--active', '--pivot'] : []),
				],
				step.disk,
				signal,
				onProgress,
			);
		},
		rebase: async (step, context) => {
			const {signal, onProgress} = context;
			const live = (await running(d)) ? await liveChain(d, step.disk) : [];
			if (!live.includes(step.file)) return d.overlays.handlers.rebase(step, context);
			const current = (await d.qemuImg.info(step.file))['full-backing-filename'];
			if ((step.backing === null && current === undefined) || current === step.backing) return; // QEMU rewrote it in the commit below.
			if (!step.copy || live[0] !== step.file) {
				throw new SnapdeckError(
					'refused',
					`${step.file} is inside the running ${d.vm}'s chain, where libvirt can only pull into the top image`,
					'stop the domain, then run snapdeck recover',
				);
			}
			return blockJob(
				d,
				['blockpull', ...d.arg, step.disk, ...(step.backing === null ? [] : ['--base', step.backing])],
				step.disk,
				signal,
				onProgress,
			);
		},
		'write-definition': (step, {resuming}) => writeDefinition(d, step.definition, resuming),
		...refuseSteps(['write-manifest'], op => new Error(`internal: ${op} is not a step for a libvirt domain`)),
	};
}

/**
 * Carries out plans on a libvirt domain. A take is one atomic libvirt call. A revert is done the
 * way LAB.md verified on libvirt 9.0, which refuses external reverts itself: the domain off, a
 * fresh overlay on the snapshot's image, the domain's disks pointed at it, the snapshot redefined
 * as current; internal snapshots revert through libvirt.
 */
export function libvirtExecutor(state: VmState, virsh: Virsh, qemuImg: QemuImg, host: Host): StepExecutor {
	const vm = state.definition.name;
	const images = hostImages(host, qemuImg);
	const d: Domain = {
		state,
		virsh,
		qemuImg,
		host,
		vm,
		arg: ['--domain', vm],
		done: new Set(),
		renames: new Map(),
		overlays: qcow2OverlayStore(images),
		internal: qcow2InternalStore(images),
	};
	const table = handlers(d);
	return {
		execute: (step, context) => handleStep(table, step, context),
		async rollback(step) {
			// A take makes one atomic libvirt call; a revert's new overlay is removed if it was begun.
			if (step.op === 'create-overlay' && activeOf(d, step.disk) !== step.backing) await d.overlays.rollback(step);
		},
	};
}
