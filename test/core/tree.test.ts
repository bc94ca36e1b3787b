import {describe, expect, it} from 'vitest';
import {buildSnapshotTree, flattenTree} from '../../source/core/tree.js';
import {snapshot} from './fixtures.js';

describe('buildSnapshotTree', () => {
	const snapshots = [
		snapshot('installed', null, 'a', 'external', 0),
		snapshot('configured', 'installed', 'b', 'external', 1),
		snapshot('pre-upgrade', 'configured', 'c', 'external', 2),
		snapshot('hotfix', 'configured', 'd', 'external', 3),
	];

	it('links parents, marks the current snapshot and the path to it, keeps the branch left behind', () => {
		const tree = buildSnapshotTree({snapshots, current: 'hotfix'});
		const rows = flattenTree(tree);
		expect(rows.map(row => `${row.prefix}${row.node.snapshot.name}`)).toEqual([
			'installed',
			'└─ configured',
			'   ├─ pre-upgrade',
			'   └─ hotfix',
		]);
		expect(rows.filter(row => row.node.isCurrent).map(row => row.node.snapshot.name)).toEqual(['hotfix']);
		expect(rows.filter(row => !row.node.onCurrentPath).map(row => row.node.snapshot.name)).toEqual(['pre-upgrade']);
	});

	it('shows a snapshot whose parent is gone as a root and reports it', () => {
		const tree = buildSnapshotTree({snapshots: [snapshot('lost', 'ghost', 'x')], current: null});
		expect(tree.roots.map(root => root.snapshot.name)).toEqual(['lost']);
		expect(tree.orphans).toEqual(['lost']);
	});

	it('survives a parent cycle without looping', () => {
		const tree = buildSnapshotTree({
			snapshots: [snapshot('a', 'b', 'x'), snapshot('b', 'a', 'y', 'external', 1)],
			current: 'a',
		});
		expect(flattenTree(tree)).toHaveLength(2);
		expect(tree.orphans.length).toBeGreaterThan(0);
	});
});

describe('a deep chain', () => {
	// A snapshot a day for years, the newest with two branches: the tree is built and drawn without
	// recursion, and its lines in front of a name stop growing after DRAWN_LEVELS levels.
	const chain = Array.from({length: 5000}, (_, index) =>
		snapshot(`day-${index}`, index === 0 ? null : `day-${index - 1}`, `f${index}`, 'external', index),
	);
	const snapshots = [
		...chain,
		snapshot('branch-a', 'day-4999', 'ga', 'external', 5000),
		snapshot('branch-b', 'day-4999', 'gb', 'external', 5001),
	];

	it('is drawn whole, in order, each name after at most DRAWN_LEVELS levels of lines', async () => {
		const {DRAWN_LEVELS} = await import('../../source/core/tree.js');
		const rows = flattenTree(buildSnapshotTree({snapshots, current: 'branch-b'}));
		expect(rows.map(row => row.node.snapshot.name)).toEqual(snapshots.map(each => each.name));
		expect(rows.map(row => row.depth)).toEqual([...chain.keys(), 5000, 5000]);
		expect(Math.max(...rows.map(row => row.prefix.length))).toBe(3 * DRAWN_LEVELS);
		expect(rows[DRAWN_LEVELS]!.prefix).toBe(`${' '.repeat(3 * (DRAWN_LEVELS - 1))}└─ `);
		expect(rows[DRAWN_LEVELS + 1]!.prefix).toBe(`…${' '.repeat(3 * (DRAWN_LEVELS - 1) - 1)}└─ `);
		expect(rows.slice(-2).map(row => row.prefix.slice(-3))).toEqual(['├─ ', '└─ ']);
		expect(rows.filter(row => row.node.onCurrentPath)).toHaveLength(5001);
	});
});

describe('mapLimited', () => {
	it('keeps the order and never has more than the limit in flight', async () => {
		const {mapLimited} = await import('../../source/core/chain.js');
		let inFlight = 0;
		let peak = 0;
		const results = await mapLimited([5, 1, 4, 2, 3], 2, async (value, index) => {
			inFlight++;
			peak = Math.max(peak, inFlight);
			// Work of different lengths, in turns of the event loop: no clock in it.
			for (let turn = 0; turn < value; turn++) await new Promise(resolve => setImmediate(resolve));
			inFlight--;
			return `${index}:${value}`;
		});
		expect(results).toEqual(['0:5', '1:1', '2:4', '3:2', '4:3']);
		expect(peak).toBe(2);
	});
});
