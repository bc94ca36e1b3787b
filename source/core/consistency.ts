import {SnapdeckError} from './errors.js';
import type {ImageInfo, VmDefinition, VmState} from './model.js';
import type {Plan} from './plan.js';

/**
 * What makes a VM's metadata contradict itself or its images, so that no plan built on it can be
 * trusted: a snapshot whose parent is missing or loops back, a frozen image that is also active,
 * an image two owners claim, a backing chain that loops. Every change is refused while one
 * stands (assertConsistent), and the tree, the list and health report the same words.
 */
export function consistencyProblems(definition: VmDefinition, images?: Readonly<Record<string, ImageInfo>>): string[] {
	const problems: string[] = [];
	const byName = new Map(definition.snapshots.map(snapshot => [snapshot.name, snapshot]));

	const targets = new Set<string>();
	const activeOwner = new Map<string, string>();
	for (const disk of definition.disks) {
		if (targets.has(disk.target)) problems.push(`disk ${disk.target} is listed twice`);
		targets.add(disk.target);
		const other = activeOwner.get(disk.file);
		if (other !== undefined)
			problems.push(`disks ${other} and ${disk.target} both name ${disk.file} as their active image`);
		activeOwner.set(disk.file, disk.target);
	}

	if (definition.current !== null && !byName.has(definition.current))
		problems.push(`the current snapshot '${definition.current}' does not exist`);
	for (const snapshot of definition.snapshots) {
		if (snapshot.parent !== null && !byName.has(snapshot.parent))
			problems.push(`snapshot '${snapshot.name}' names a parent that does not exist ('${snapshot.parent}')`);
	}
	// Parent cycles: follow each snapshot's parents; meeting one twice is a loop. A walk stops where
	// an earlier one went (any loop above was found then), so every snapshot is walked once: vm.json
	// may list thousands in one chain, and a walk from each, searched as a list, took minutes.
	const walked = new Set<string>();
	for (const snapshot of definition.snapshots) {
		const path = new Map<string, number>();
		for (
			let name: string | null = snapshot.name;
			name !== null && byName.has(name) && !walked.has(name);
			name = byName.get(name)!.parent
		) {
			const at = path.get(name);
			if (at !== undefined) {
				const loop = [...path.keys()].slice(at);
				problems.push(
					loop.length === 1
						? `snapshot '${name}' names itself as its parent`
						: `snapshots ${[...loop, name].map(member => `'${member}'`).join(' → ')} are each other's parents (a loop)`,
				);
				break;
			}
			path.set(name, path.size);
		}
		for (const name of path.keys()) walked.add(name);
	}

	const frozenOwner = new Map<string, string>();
	for (const snapshot of definition.snapshots) {
		const seen = new Set<string>();
		for (const disk of snapshot.disks) {
			if (seen.has(disk.target)) problems.push(`snapshot '${snapshot.name}' lists disk ${disk.target} twice`);
			seen.add(disk.target);
			if (snapshot.kind !== 'external') continue;
			const active = activeOwner.get(disk.file);
			if (active !== undefined)
				problems.push(
					`snapshot '${snapshot.name}' names ${disk.file} as its frozen image, but it is the active image of disk ${active}`,
				);
			const other = frozenOwner.get(disk.file);
			if (other !== undefined)
				problems.push(`snapshots '${other}' and '${snapshot.name}' both name ${disk.file} as their frozen image`);
			frozenOwner.set(disk.file, snapshot.name);
		}
	}
	if (images) problems.push(...imageProblems(definition, images));
	return problems;
}

/** Problems of the image graph: loops in backing chains, disks that share images, overlays on an active image. */
function imageProblems(definition: VmDefinition, images: Readonly<Record<string, ImageInfo>>): string[] {
	const problems: string[] = [];
	// Each image is walked once: a walk stops at an image an earlier walk went through (walking every
	// image's whole chain, each step searching the walk so far, took 73 s on a 3000-image chain).
	const walked = new Set<string>();
	let looped = false;
	for (const start of Object.keys(images)) {
		const chain: string[] = [];
		const onChain = new Map<string, number>();
		for (let file: string | null = start; file !== null && images[file] && !walked.has(file);) {
			const at = onChain.get(file);
			if (at !== undefined) {
				looped = true;
				problems.push(`the backing chain of ${file} loops (${[...chain.slice(at), file].join(' → ')})`);
				break;
			}
			onChain.set(file, chain.length);
			chain.push(file);
			file = images[file]!.backing;
		}
		for (const file of chain) walked.add(file);
	}
	if (looped) return problems;

	const chainOf = (file: string) => {
		const chain: string[] = [];
		for (let next: string | null = file; next !== null && images[next]; next = images[next]!.backing) chain.push(next);
		return chain;
	};
	const owner = new Map<string, string>();
	for (const disk of definition.disks) {
		for (const file of chainOf(disk.file)) {
			const other = owner.get(file);
			if (other !== undefined && other !== disk.target)
				problems.push(`${file} is in the chains of both disk ${other} and disk ${disk.target}`);
			owner.set(file, disk.target);
		}
		const builtOn = Object.values(images)
			.filter(image => image.backing === disk.file)
			.map(image => image.file);
		if (builtOn.length > 0)
			problems.push(
				`${builtOn.join(', ')} ${builtOn.length === 1 ? 'is' : 'are'} built on ${disk.file}, the active image of disk ${disk.target}: a write to the disk would change ${builtOn.length === 1 ? 'it' : 'them'}`,
			);
	}
	return problems;
}

/** Refuses `doing` on a VM while its inspection found problems: they block every change. */
export function assertNoProblems(vm: string, doing: string, problems: readonly string[]): void {
	if (problems.length > 0) {
		throw new SnapdeckError(
			'refused',
			`cannot ${doing} ${vm}: ${problems.join('; ')}`,
			`nothing was changed; 'snapdeck tree ${vm}' shows the VM as it is`,
			'damaged',
		);
	}
}

/** Refuses any change to a VM whose metadata or images contradict themselves. */
export function assertConsistent(state: Pick<VmState, 'definition' | 'images'>, doing: string): void {
	const problems = consistencyProblems(state.definition, state.images);
	if (problems.length > 0) {
		throw new SnapdeckError(
			'refused',
			`cannot ${doing} ${state.definition.name}: ${problems.join('; ')}`,
			`nothing was changed; fix the VM's metadata (its vm.json or snapshot metadata) by hand, or restore it from a backup; 'snapdeck tree ${state.definition.name}' shows the problems`,
		);
	}
}

/**
 * Refuses a plan that touches a file outside the VM's own chain: each file a step reads, writes or
 * deletes is one of the VM's images or one an earlier step created, and nothing is created where
 * an image already is.
 */
export function assertPlanConfined(state: Pick<VmState, 'definition' | 'images'>, plan: Plan): Plan {
	const known = new Set(Object.keys(state.images));
	for (const step of plan.steps) {
		// Their writes name the metadata itself, not an image.
		if (step.op === 'write-definition' || step.op === 'write-manifest') continue;
		for (const file of step.creates) {
			if (known.has(file))
				throw new SnapdeckError(
					'refused',
					`cannot ${plan.action} on ${plan.vm}: the plan would create ${file}, which is already one of its images`,
					'nothing was changed; report this plan (--dry-run --json) as a bug',
				);
		}
		for (const file of [...step.reads, ...step.writes, ...step.deletes]) {
			if (!known.has(file) && !step.creates.includes(file)) {
				throw new SnapdeckError(
					'refused',
					`cannot ${plan.action} on ${plan.vm}: step '${step.summary}' touches ${file}, which is not in the VM's own chain`,
					"nothing was changed; the VM's metadata names a file its images do not reach: check it with 'snapdeck tree'",
				);
			}
		}
		for (const file of step.creates) known.add(file);
	}
	return plan;
}
