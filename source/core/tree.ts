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
		const siblings = childrenOf.get(parent);
		if (siblings) siblings.push(snapshot);
		else childrenOf.set(parent, [snapshot]);
	}

	// Iterative, not recursive: a chain of thousands of snapshots must not overflow the stack.
	const visited = new Set<string>();
	const nodeOf = (snapshot: Snapshot): SnapshotNode => {
		visited.add(snapshot.name);
		return {
			snapshot,
			isCurrent: snapshot.name === definition.current,
			onCurrentPath: currentPath.has(snapshot.name),
			children: [],
		};
	};
	const grow = (root: SnapshotNode) => {
		const stack = [root];
		for (let node = stack.pop(); node !== undefined; node = stack.pop()) {
			for (const child of childrenOf.get(node.snapshot.name) ?? []) {
				if (visited.has(child.name)) continue;
				const childNode = nodeOf(child);
				node.children.push(childNode);
				stack.push(childNode);
			}
		}
		return root;
	};
	const roots = (childrenOf.get(null) ?? []).map(snapshot => grow(nodeOf(snapshot)));
	// A parent cycle leaves snapshots unreachable from any root: show them as roots too.
	for (const snapshot of definition.snapshots) {
		if (!visited.has(snapshot.name)) {
			orphans.push(snapshot.name);
			roots.push(grow(nodeOf(snapshot)));
		}
	}
	return {roots, current: definition.current, orphans};
}

/**
 * How many levels of a tree's lines are drawn in front of a name: deeper rows show the last of
 * them after an ellipsis, so a chain of dozens of snapshots keeps its names on an 80-column screen
 * (each level takes three columns) and a chain of thousands does not build rows of many kilobytes.
 */
export const DRAWN_LEVELS = 6;
const DRAWN_WIDTH = 3 * DRAWN_LEVELS;

/** Depth-first rows with box-drawing prefixes, ready for a text or Ink renderer. */
export function flattenTree(tree: SnapshotTree): TreeRow[] {
	const rows: TreeRow[] = [];
	// The nodes still to draw at each level, with the lines in front of them: iterative, as above.
	const stack: Array<{nodes: SnapshotNode[]; next: number; indent: string; depth: number}> = [
		{nodes: tree.roots, next: 0, indent: '', depth: 0},
	];
	while (stack.length > 0) {
		const frame = stack.at(-1)!;
		if (frame.next >= frame.nodes.length) {
			stack.pop();
			continue;
		}
		const {depth, indent} = frame;
		const node = frame.nodes[frame.next++]!;
		const last = frame.next === frame.nodes.length;
		const drawn = indent.length > DRAWN_WIDTH - 3 ? `…${indent.slice(-(DRAWN_WIDTH - 4))}` : indent;
		rows.push({node, depth, prefix: depth === 0 ? '' : `${drawn}${last ? '└─ ' : '├─ '}`});
		const below = depth === 0 ? '' : `${indent}${last ? '   ' : '│  '}`;
		stack.push({nodes: node.children, next: 0, indent: below.slice(-DRAWN_WIDTH), depth: depth + 1});
	}
	return rows;
}
