import type {Snapshot, VmDefinition} from './model.js';

export interface SnapshotNode {
	readonly snapshot: Snapshot;
	readonly children: SnapshotNode[];
	/** The snapshot the VM's present state descends from. */
	readonly isCurrent: boolean;
	/** On the path from a root to the current snapshot; the rest are branches left behind by reverts. */
	readonly onCurrentPath: boolean;
}

export interface SnapshotTree {
	readonly roots: SnapshotNode[];
	readonly current: string | null;
	/** Snapshots whose parent is not in the tree: shown as roots, and reported. */
	readonly orphans: string[];
}

export interface TreeRow {
	readonly node: SnapshotNode;
	/** Tree-drawing prefix such as "│  ├─ ". */
	readonly prefix: string;
	readonly depth: number;
}

const byTime = (a: Snapshot, b: Snapshot) => a.createdAt.localeCompare(b.createdAt) || a.name.localeCompare(b.name);

/** Builds the snapshot tree from parent links; children are ordered oldest first. */
export function buildSnapshotTree(definition: Pick<VmDefinition, 'snapshots' | 'current'>): SnapshotTree {
	const byName = new Map(definition.snapshots.map(snapshot => [snapshot.name, snapshot]));
	const currentPath = new Set<string>();
	for (let name = definition.current; name !== null && !currentPath.has(name);) {
		currentPath.add(name);
		name = byName.get(name)?.parent ?? null;
	}

	const orphans: string[] = [];
	const childrenOf = new Map<string | null, Snapshot[]>();
	for (const snapshot of [...definition.snapshots].sort(byTime)) {
		let parent = snapshot.parent;
		if (parent !== null && !byName.has(parent)) {
			orphans.push(snapshot.name);
			parent = null;
		}
		childrenOf.set(parent, [...(childrenOf.get(parent) ?? []), snapshot]);
	}

	const visited = new Set<string>();
	const build = (snapshot: Snapshot): SnapshotNode => {
		visited.add(snapshot.name);
		return {
			snapshot,
			isCurrent: snapshot.name === definition.current,
			onCurrentPath: currentPath.has(snapshot.name),
			children: (childrenOf.get(snapshot.name) ?? []).filter(child => !visited.has(child.name)).map(build),
		};
	};
	const roots = (childrenOf.get(null) ?? []).map(build);
	// A parent cycle leaves snapshots unreachable from any root: show them as roots too.
	for (const snapshot of definition.snapshots) {
		if (!visited.has(snapshot.name)) {
			orphans.push(snapshot.name);
			roots.push(build(snapshot));
		}
	}
	return {roots, current: definition.current, orphans};
}

/** Depth-first rows with box-drawing prefixes, ready for a text or Ink renderer. */
export function flattenTree(tree: SnapshotTree): TreeRow[] {
	const rows: TreeRow[] = [];
	const walk = (nodes: SnapshotNode[], indent: string, depth: number) => {
		nodes.forEach((node, index) => {
			const last = index === nodes.length - 1;
			rows.push({node, depth, prefix: depth === 0 ? '' : `${indent}${last ? '└─ ' : '├─ '}`});
			walk(node.children, depth === 0 ? '' : `${indent}${last ? '   ' : '│  '}`, depth + 1);
		});
	};
	walk(tree.roots, '', 0);
	return rows;
}
