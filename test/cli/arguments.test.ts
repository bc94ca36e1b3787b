import {readdir, readFile} from 'node:fs/promises';
import path from 'node:path';
import {describe, expect, it} from 'vitest';
import {snapdeck} from '../helpers/cli.js';
import {labWithVm, tempDir} from '../helpers/lab.js';

/** Every file under `root` with its bytes, to prove a refused command changed nothing. */
async function everything(root: string): Promise<Record<string, string>> {
	const files = await readdir(root, {recursive: true, withFileTypes: true});
	const entries = await Promise.all(
		files
			.filter(file => file.isFile())
			.map(async file => {
				const full = path.join(file.parentPath, file.name);
				return [path.relative(root, full), (await readFile(full)).toString('base64')] as const;
			}),
	);
	return Object.fromEntries(entries.sort(([a], [b]) => a.localeCompare(b)));
}

describe("a command line that does not fit the command's spec, on a real lab: a clear error, the usage, exit 2, nothing changed", () => {
	const oddNames = [
		'with space',
		"qu'ote",
		'semi;colon',
		'$(touch pwned)',
		'`id`',
		'../vm1',
		'-rf',
		'snäpshot',
		'vm1\u202e',
	];

	it.each(oddNames)('the odd name %j as a VM or as a snapshot', async name => {
		const lab = await labWithVm();
		await lab.take('s1');
		const repo = await tempDir();
		const before = {lab: await everything(lab.root), repo: await readdir(repo)};
		const connect = ['--connect', `local:${lab.root}`, '--repo', repo, '--yes'];
		const lines = [
			['snapshot', '--', name, 's2'],
			['revert', '--', name, 's1'],
			['revert', '--', 'vm1', name],
			['merge', '--', 'vm1', name],
			['backup', '--', name],
			['restore', '--point', 'x', '--to', path.join(lab.root, 'out'), '--', name],
			['stop', '--', name],
		];
		for (const line of lines) {
			const run = await snapdeck([...connect, ...line]);
			expect([run.exitCode, run.stdout], line.join(' ')).toEqual([2, '']);
			expect(run.stderr, line.join(' ')).toMatch(/^snapdeck: invalid (VM|snapshot) name /);
			expect(run.stderr, line.join(' ')).toContain(`usage: snapdeck ${line[0]} `);
		}
		expect({lab: await everything(lab.root), repo: await readdir(repo)}).toEqual(before);
	});

	it('too few or too many arguments', async () => {
		const lab = await labWithVm();
		await lab.take('s1');
		const before = await everything(lab.root);
		const connect = ['--connect', `local:${lab.root}`, '--yes'];
		for (const line of [
			['revert', 'vm1'],
			['merge', 'vm1', 's1', 'extra'],
			['snapshot', 'vm1'],
			['start'],
			['stop', 'vm1', 'vm2'],
			['recover'],
		]) {
			const run = await snapdeck([...line, ...connect]);
			expect(run.exitCode, line.join(' ')).toBe(2);
			expect(run.stderr, line.join(' ')).toMatch(new RegExp(`^snapdeck: 'snapdeck ${line[0]}' (needs|takes) `));
			expect(run.stderr, line.join(' ')).toContain(`usage: snapdeck ${line[0]} `);
		}
		expect(await everything(lab.root)).toEqual(before);
	});
});
