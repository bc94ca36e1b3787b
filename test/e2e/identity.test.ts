import {cp, readdir, readFile, writeFile} from 'node:fs/promises';
import path from 'node:path';
import {describe, expect, it} from 'vitest';
import {jsonOf, snapdeck, type CliResult} from '../helpers/cli.js';
import {labWithVm, MiB, qemuImg, qemuIo, tempDir} from '../helpers/lab.js';

/**
 * One name, two VMs: two labs (as two hosts would) each have a VM web1, and both back up into the
 * same default repository. Each sees, restores and prunes only its own points; the other's are
 * restored only deliberately, as a new VM; the journal keeps them apart too.
 */
describe('two VMs of one name on two connections, one repository', () => {
	async function twoLabs() {
		const data = await tempDir();
		// The default repository (and the central journal) under a data folder of the test's own.
		const env = {XDG_DATA_HOME: data, SNAPDECK_JOURNAL: path.join(data, 'journal.jsonl')};
		const [a, b] = [await labWithVm('web1', ['vda'], 32), await labWithVm('web1', ['vda'], 32)];
		await a.write(0xaa, 1);
		await b.write(0xbb, 1);
		const on = (lab: typeof a) => (args: string[]) => snapdeck([...args, '--connect', `local:${lab.root}`], env);
		return {data, env, a, b, runA: on(a), runB: on(b), repo: path.join(data, 'snapdeck', 'backups')};
	}
	const pointOf = (result: CliResult) =>
		(JSON.parse(result.stdout.trim().split('\n').at(-1)!) as {point: {id: string}}).point.id;
	const idsOf = (result: CliResult) => (jsonOf(result)['points'] as Array<{id: string}>).map(point => point.id);

	it("backups, restore and prune on one never see, restore or remove the other's points; log keeps them apart", async () => {
		const {a, b, runA, runB, repo} = await twoLabs();
		const first = await runA(['backup', 'web1', '--json']);
		expect(first.exitCode, first.stderr).toBe(0);
		const pointA = pointOf(first);
		// Distinct point ids, so that a mix-up would show.
		await new Promise(resolve => setTimeout(resolve, 1100));
		const second = await runB(['backup', 'web1', '--json']);
		expect(second.exitCode, second.stderr).toBe(0);
		const pointB = pointOf(second);
		expect(JSON.parse(second.stdout.split('\n')[0]!)).toMatchObject({type: 'decision', kind: 'full'});
		// Two folders: the first VM's web1, the second's web1@TAG.
		const folders = (await readdir(repo)).filter(name => name.startsWith('web1')).sort();
		expect(folders).toEqual(['web1', expect.stringMatching(/^web1@[0-9a-f]{12}$/)]);
		expect(idsOf(await runA(['backups', 'web1', '--json']))).toEqual([pointA]);
		expect(idsOf(await runB(['backups', 'web1', '--json']))).toEqual([pointB]);
		const listed = await runB(['backups', 'web1']);
		expect(listed.stdout).toContain(`${folders[0]}`);
		expect(listed.stdout).toMatch(/also holds the backups of web1 on .*\(uuid .*\), 1 point: --origin /);

		// The first's point is not the second's: not restored over it, nor as its own.
		const inPlace = await runB(['restore', 'web1', '--point', pointA, '--in-place', '--yes', '--json']);
		expect(inPlace.exitCode).toBe(2);
		expect(jsonOf(inPlace)['error']).toMatchObject({
			code: 'no-such-point',
			message: expect.stringContaining(`${pointA} is a point of web1 on`),
		});
		expect(await qemuIo.holds(await b.activeFile(), 0xbb, MiB, MiB)).toBe(true);
		const out = await tempDir();
		const asOwn = await runB(['restore', 'web1', '--point', pointA, '--to', path.join(out, 'a.qcow2')]);
		expect(asOwn.exitCode).toBe(2);
		expect(asOwn.stderr).toMatch(/--origin [0-9a-f]{12}|--origin web1/);
		// Deliberately, as what it is: the first VM's data.
		const origin = /--origin (\S+)/.exec(asOwn.stderr)![1]!;
		const deliberate = await runB([
			'restore',
			'web1',
			'--origin',
			origin,
			'--point',
			pointA,
			'--to',
			path.join(out, 'a.qcow2'),
		]);
		expect(deliberate.exitCode, deliberate.stderr).toBe(0);
		expect(await qemuIo.holds(path.join(out, 'a.qcow2'), 0xaa, MiB, MiB)).toBe(true);
		// ... and never over the VM it is not.
		expect(
			(await runB(['restore', 'web1', '--origin', origin, '--point', pointA, '--in-place', '--yes'])).stderr,
		).toContain('a point of another VM is restored deliberately as a new VM');

		// Pruning the second's leaves the first's only point alone.
		await b.write(0xbc, 2);
		expect((await runB(['backup', 'web1'])).exitCode).toBe(0);
		const pruned = await runB(['prune', 'web1', '--keep-last', '1', '--yes']);
		expect(pruned.exitCode, pruned.stderr).toBe(0);
		expect(idsOf(await runA(['backups', 'web1', '--json']))).toEqual([pointA]);
		expect((await runA(['verify', 'web1'])).exitCode).toBe(0);
		expect(await qemuImg.same(path.join(repo, 'web1', 'vda', `${pointA}.qcow2`), await a.activeFile())).toBe(true);

		// The journal: each connection's own, unless asked for all.
		const logA = jsonOf(await runA(['log', 'web1', '--json']))['records'] as Array<{
			connection: string;
			snapshot: string;
		}>;
		const logB = jsonOf(await runB(['log', 'web1', '--json']))['records'] as Array<{
			connection: string;
			snapshot: string;
		}>;
		expect(new Set(logA.map(record => record.connection))).toEqual(new Set([`local:${a.root}`]));
		expect(new Set(logB.map(record => record.connection))).toEqual(new Set([`local:${b.root}`]));
		expect(logA.some(record => record.snapshot === pointA) && !logA.some(record => record.snapshot === pointB)).toBe(
			true,
		);
		const all = jsonOf(await runA(['log', 'web1', '--all-connections', '--json']))['records'] as unknown[];
		expect(all.length).toBe(logA.length + logB.length);
	});

	it('a folder an older snapdeck wrote (no identity) is adopted once by its VM, with a journal line; another VM of the name then gets its own', async () => {
		const {a, runA, runB, repo} = await twoLabs();
		expect((await runA(['backup', 'web1'])).exitCode).toBe(0);
		// As an older snapdeck left it: no identity anywhere.
		const file = path.join(repo, 'web1', 'manifest.json');
		const manifest = JSON.parse(await readFile(file, 'utf8')) as {
			identity?: unknown;
			points: Array<{identity?: unknown}>;
		};
		delete manifest.identity;
		for (const point of manifest.points) delete point.identity;
		await writeFile(file, JSON.stringify(manifest));
		await a.write(0xab, 3);
		const next = await runA(['backup', 'web1', '--json']);
		expect(next.exitCode, next.stderr).toBe(0);
		const adopted = JSON.parse(await readFile(file, 'utf8')) as {
			identity: {uuid: string};
			points: Array<{identity: {uuid: string}}>;
		};
		expect(adopted.points).toHaveLength(2);
		expect(adopted.points.every(point => point.identity.uuid === adopted.identity.uuid)).toBe(true);
		expect(await readFile(path.join(repo, 'web1', '.snapdeck', 'journal.jsonl'), 'utf8')).toMatch(
			/"action":"adopt".*1 point of an older snapdeck, with no identity, adopted as web1 on/,
		);
		// Once adopted, the other lab's web1 is another VM: its own folder, its own full.
		const other = await runB(['backup', 'web1', '--json']);
		expect(JSON.parse(other.stdout.split('\n')[0]!)).toMatchObject({
			kind: 'full',
			reason: 'there is no earlier backup of this VM in the repository',
		});
		expect((await readdir(repo)).filter(name => name.startsWith('web1@'))).toHaveLength(1);
	});

	it("a repository named with --repo is written alone: no line in the central journal, no entry in this user's list of repositories", async () => {
		const {data, a, runA} = await twoLabs();
		const named = path.join(await tempDir(), 'named');
		const result = await runA(['backup', 'web1', '--repo', named]);
		expect(result.exitCode, result.stderr).toBe(0);
		const central = await readFile(path.join(data, 'journal.jsonl'), 'utf8').catch(() => '');
		expect(central).not.toContain(named);
		expect(central).not.toContain('"action":"backup"');
		expect(await readdir(path.join(data, 'snapdeck')).catch(() => [])).not.toContain('repositories.json');
		await expect(readFile(path.join(data, 'journal.jsonl.repositories.json'), 'utf8')).rejects.toThrow();
		// log finds them where they are, given the same --repo; the VM's own state knows the repository for its bitmaps.
		const log = jsonOf(await runA(['log', 'web1', '--repo', named, '--json']))['records'] as Array<{
			action: string;
			outcome: string;
		}>;
		expect(log.filter(record => record.action === 'backup').map(record => record.outcome)).toEqual(['started', 'done']);
		expect(JSON.parse(await readFile(path.join(a.folder, '.snapdeck', 'repositories.json'), 'utf8'))).toEqual(
			expect.objectContaining({}),
		);
		expect(
			Object.values(
				JSON.parse(await readFile(path.join(a.folder, '.snapdeck', 'repositories.json'), 'utf8')) as Record<
					string,
					string
				>,
			),
		).toEqual([path.resolve(named)]);
	});

	it("a copy of a lab's folder (cp -a) carries its VMs' UUIDs: the copy is refused, saying how to give it its own, instead of sharing the first one's backups", async () => {
		const {env, a, runA} = await twoLabs();
		// A UUID of its own in vm.json, as the demo lab's VMs have (without one, it is derived from the folder).
		const original = path.join(a.folder, 'vm.json');
		await writeFile(
			original,
			JSON.stringify({
				...(JSON.parse(await readFile(original, 'utf8')) as object),
				uuid: '6f1c2d3e-4a5b-4c6d-8e7f-0123456789ab',
			}),
		);
		expect((await runA(['backup', 'web1'])).exitCode).toBe(0);
		const copy = path.join(await tempDir(), 'lab');
		await cp(a.root, copy, {recursive: true});
		const runCopy = (args: string[]) => snapdeck([...args, '--connect', `local:${copy}`], env);
		const refused = await runCopy(['backup', 'web1']);
		expect(refused.exitCode).toBe(1);
		expect(refused.stderr).toContain(`is a copy of the VM in ${a.folder}`);
		expect(refused.stderr).toContain('remove "uuid" from');
		expect(idsOf(await runA(['backups', 'web1', '--json']))).toHaveLength(1);
		// Given its own identity, it backs up into a folder of its own.
		const vmFile = path.join(copy, 'web1', 'vm.json');
		const withUuid = JSON.parse(await readFile(vmFile, 'utf8')) as Record<string, unknown>;
		delete withUuid['uuid'];
		await writeFile(vmFile, JSON.stringify(withUuid));
		expect((await runCopy(['backup', 'web1'])).exitCode).toBe(0);
		expect(idsOf(await runA(['backups', 'web1', '--json']))).toHaveLength(1);
		expect(idsOf(await runCopy(['backups', 'web1', '--json']))).toHaveLength(1);
	});
});
