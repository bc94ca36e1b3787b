import {spawn, type ChildProcess} from 'node:child_process';
import {createHash} from 'node:crypto';
import {mkdir, readdir, readFile, rm, writeFile} from 'node:fs/promises';
import path from 'node:path';
import {execa} from 'execa';
import {afterAll, beforeAll, describe, expect, it} from 'vitest';
import {jsonLines, jsonOf, snapdeck} from '../helpers/cli.js';
import {holdTempDirs, labWithVm, MiB, qemuImg, qemuIo, tempDir} from '../helpers/lab.js';
import {freePort, waitForPort} from '../helpers/net.js';
import {cheapenResticKeys} from '../helpers/restic-key.js';

/**
 * The hostile corpus of off-site copies: what someone who holds a target's password (or write
 * access to an append-only one) can add there, and what snapdeck does with it. Each forged
 * snapshot carries the tags of a real point, as a forger would make it.
 */

const stops: Array<() => void> = [];
afterAll(() => {
	for (const stop of stops.splice(0)) stop();
});

/** `rclone serve restic --append-only` on 127.0.0.1: this host may add snapshots, never remove one. */
async function appendOnlyServer(dir: string): Promise<string> {
	const port = await freePort();
	const server: ChildProcess = spawn(
		'rclone',
		['serve', 'restic', '--addr', `127.0.0.1:${port}`, '--append-only', dir],
		{stdio: 'ignore'},
	);
	stops.push(() => server.kill());
	await waitForPort(port);
	return `rest:http://127.0.0.1:${port}/`;
}

const sha256 = async (file: string) =>
	createHash('sha256')
		.update(await readFile(file))
		.digest('hex');

interface ManifestJson {
	vm: string;
	points: Array<{
		id: string;
		parent: string | null;
		files: Array<{disk: string; file: string; backing: string | null; size: number; sha256: string}>;
	}>;
	[key: string]: unknown;
}

/** A VM with one full point copied to `target` (made there), and what a forger reads back of that copy. */
async function copied(target?: (work: string) => Promise<string> | string) {
	const lab = await labWithVm('vm1', ['vda'], 64);
	const work = await tempDir();
	const password = path.join(work, 'password');
	await writeFile(password, 'pw\n', {mode: 0o600});
	const env = {
		SNAPDECK_CONNECT: `local:${lab.root}`,
		SNAPDECK_REPO: path.join(work, 'repo'),
		SNAPDECK_JOURNAL: path.join(work, 'journal.jsonl'),
		RESTIC_PASSWORD_FILE: password,
	};
	const repository = target ? await target(work) : path.join(work, 'restic');
	await lab.write(0x61, 1);
	expect((await snapdeck(['backup', 'vm1', '--no-compress'], env)).exitCode).toBe(0);
	const copy = await snapdeck(['copy', 'vm1', '--target', repository, '--json'], env);
	expect(copy.exitCode, copy.stderr).toBe(0);
	// From here on restic opens a target in a folder at a millisecond's KDF cost (test/helpers/restic-key.ts).
	if (path.isAbsolute(repository)) await cheapenResticKeys(repository, 'pw');
	const result = jsonLines(copy).at(-1)!;
	const point = String(result['point']);
	const restic = (args: string[], options: {cwd?: string} = {}) =>
		execa('restic', ['-r', repository, ...args], {env: {RESTIC_PASSWORD_FILE: password}, ...options});
	const listed = (
		JSON.parse((await restic(['snapshots', '--json'])).stdout) as Array<{id: string; tags: string[]}>
	).find(entry => entry.id.startsWith(String(result['snapshot'])))!;
	const {id: snapshot, tags} = listed;
	const manifest = JSON.parse((await restic(['dump', snapshot, '/manifest.json'])).stdout) as ManifestJson;
	const file = `vda/${point}.qcow2`;
	return {
		lab,
		work,
		password,
		env,
		repository,
		point,
		snapshot,
		tags,
		manifest,
		file,
		restic,
		run: (...args: string[]) => snapdeck(args, env),
	};
}

type Lab = Awaited<ReturnType<typeof copied>>;

/** A qcow2 image of the point's size whose first MiB holds `pattern`: the forger's data. */
async function forgedImage(file: string, pattern: number): Promise<void> {
	await mkdir(path.dirname(file), {recursive: true});
	await qemuImg.create(file, {size: 64 * MiB});
	await qemuIo.write(file, pattern, 0, MiB);
}

/**
 * A snapshot added to `repository` by another host ('forger') with the tags of the real point:
 * `build` fills its folder (given the folder and the real manifest to start from). Its restic id.
 */
async function forge(
	lab: Lab,
	build: (dir: string, manifest: ManifestJson) => Promise<ManifestJson | string | null>,
	repository = lab.repository,
): Promise<string> {
	const dir = path.join(lab.work, `forged-${Math.random().toString(16).slice(2)}`);
	await mkdir(dir);
	const manifest = await build(dir, structuredClone(lab.manifest));
	// null: the build made manifest.json itself (or left it out).
	if (manifest !== null)
		await writeFile(
			path.join(dir, 'manifest.json'),
			typeof manifest === 'string' ? manifest : JSON.stringify(manifest),
		);
	const backup = await execa(
		'restic',
		['-r', repository, 'backup', '--json', '--host', 'forger', '--tag', lab.tags.join(','), '.'],
		{cwd: dir, env: {RESTIC_PASSWORD_FILE: lab.password}},
	);
	await rm(dir, {recursive: true, force: true});
	const short = String(
		backup.stdout
			.split('\n')
			.map(line => JSON.parse(line) as Record<string, unknown>)
			.find(line => line['message_type'] === 'summary')!['snapshot_id'],
	);
	return (
		JSON.parse(
			(
				await execa('restic', ['-r', repository, 'snapshots', '--json', short], {
					env: {RESTIC_PASSWORD_FILE: lab.password},
				})
			).stdout,
		) as Array<{id: string}>
	)[0]!.id;
}

/** The real point's file, its manifest's entry made to describe `file` instead (the forger's data, consistent in itself). */
async function withFile(dir: string, manifest: ManifestJson, lab: Lab, pattern: number): Promise<ManifestJson> {
	const file = path.join(dir, lab.file);
	await forgedImage(file, pattern);
	const entry = manifest.points.at(-1)!.files[0]!;
	entry.size = (await readFile(file)).length;
	entry.sha256 = await sha256(file);
	return manifest;
}

/** The files in `dir` and below, by path relative to it. */
async function filesUnder(dir: string): Promise<string[]> {
	const entries = await readdir(dir, {recursive: true, withFileTypes: true}).catch(() => []);
	return entries
		.filter(entry => !entry.isDirectory())
		.map(entry => path.relative(dir, path.join(entry.parentPath, entry.name)))
		.sort();
}

/** A fresh restic repository beside the lab's (a target that holds only what a test forges there). */
async function freshTarget(lab: Lab, name: string): Promise<string> {
	const repository = path.join(lab.work, name);
	await execa('restic', ['-r', repository, 'init'], {env: {RESTIC_PASSWORD_FILE: lab.password}});
	await cheapenResticKeys(repository, 'pw');
	return repository;
}

/**
 * One VM, one point copied to an append-only rclone target (the real copy, and what forgers add
 * beside it), and one plain target that holds forged snapshots only: every case shares them
 * (restic and the lab are the slow part), in this order, the disaster last.
 */
let lab: Lab;
let forgedOnly: string;
beforeAll(async () => {
	lab = await copied(work => appendOnlyServer(path.join(work, 'append-only')));
	forgedOnly = await freshTarget(lab, 'forged-only');
	holdTempDirs();
}, 60_000);

describe.sequential('forged snapshot contents: refused before anything is written', () => {
	// Each other forgery of a snapshot's contents (a manifest of another VM, a file longer than it says...) is a case of test/core/offsite-contents.test.ts.
	const cases: Array<[string, (dir: string, manifest: ManifestJson) => Promise<ManifestJson | string | null>, RegExp]> =
		[
			[
				"the real point's file and more (a large sparse file, another image, a link): refused, none of it written",
				async (dir, manifest) => {
					const real = path.join(lab.work, 'real');
					await lab.restic(['restore', lab.snapshot, '--target', real, '--include', `/${lab.file}`]);
					await mkdir(path.join(dir, 'vda'), {recursive: true});
					await execa('cp', [path.join(real, lab.file), path.join(dir, lab.file)]);
					await rm(real, {recursive: true});
					await mkdir(path.join(dir, 'extra'));
					// Sparse, and as large as the test's time allows (restic reads every zero of it): a 3 GiB one is refused the same way, from the listing.
					await execa('truncate', ['-s', '256M', path.join(dir, 'extra', 'big.raw')]);
					await writeFile(path.join(dir, 'vda', 'other.qcow2'), 'not named');
					await execa('ln', ['-s', '/etc/hostname', path.join(dir, 'vda', 'hostname')]);
					return manifest;
				},
				/holds what no copy of point \d{8}T\d{6}Z does: extra\/big\.raw \(268435456 bytes\), vda\/hostname \(symlink\), vda\/other\.qcow2 \(9 bytes\)/,
			],
			[
				'a qcow2 whose header names a backing file of this host',
				async (dir, manifest) => {
					const file = path.join(dir, lab.file);
					await mkdir(path.dirname(file), {recursive: true});
					await execa('qemu-img', [
						'create',
						'-q',
						'-f',
						'qcow2',
						'-F',
						'raw',
						'-b',
						'/etc/hostname',
						file,
						`${64 * MiB}`,
					]);
					const entry = manifest.points[0]!.files[0]!;
					entry.size = (await readFile(file)).length;
					entry.sha256 = await sha256(file);
					return manifest;
				},
				/backed by \/etc\/hostname/,
			],
		];

	for (const [name, build, expected] of cases) {
		it(
			name,
			async () => {
				const snapshot = await forge(lab, async (dir, manifest) => build(dir, manifest), forgedOnly);
				const out = path.join(lab.work, 'out');
				await mkdir(out, {recursive: true});
				const result = await lab.run(
					'restore',
					'vm1',
					'--from',
					forgedOnly,
					'--point',
					lab.point,
					'--snapshot',
					snapshot,
					'--to',
					path.join(out, 'vm1.qcow2'),
				);
				expect(result.exitCode, result.stdout).toBe(1);
				expect(result.stderr).toMatch(expected);
				expect(await filesUnder(out)).toEqual([]);
			},
			30_000,
		);
	}
});

describe.sequential('forged snapshots of real points on an append-only target', () => {
	it('restore fetches the files the manifest names and nothing else of the snapshot (killed once fetched: the work folder shows it)', async () => {
		const to = path.join(lab.work, 'fetched', 'vm1.qcow2');
		await mkdir(path.dirname(to));
		const crashed = await snapdeck(['restore', 'vm1', '--from', lab.repository, '--point', lab.point, '--to', to], {
			...lab.env,
			SNAPDECK_CRASH_AT: 'restore-from:fetched',
		});
		expect(crashed.signal, crashed.stderr).toBe('SIGKILL');
		const written = await filesUnder(path.dirname(to));
		expect(written.map(file => file.replace(/^\.snapdeck-work-[0-9a-f]+-offsite-restore\//, 'WORK/'))).toEqual([
			'WORK/.snapdeck-job',
			'WORK/vm1/manifest.json',
			`WORK/vm1/${lab.file}`,
		]);
		expect((await lab.run('recover', 'vm1')).exitCode).toBe(0);
		expect(await filesUnder(path.dirname(to))).toEqual([]);
	}, 30_000);

	it('a snapshot of the next point made by someone else before this host copied it: the copy is made all the same, and it is the one this host restores and finds again', async () => {
		await lab.lab.write(0x62, 2);
		expect((await lab.run('backup', 'vm1', '--no-compress')).exitCode).toBe(0);
		const next = String(
			(jsonOf(await lab.run('backups', 'vm1', '--json'))['points'] as Array<{id: string}>).at(-1)!.id,
		);
		// The forger guesses the next point's id (a time) and its tags, and gets there first.
		const tags = lab.tags
			.map(tag => (tag.startsWith('point=') ? `point=${next}` : tag.startsWith('kind=') ? 'kind=incremental' : tag))
			.concat(`parent=${lab.point}`);
		const pre = await forge({...lab, tags, file: `vda/${next}.qcow2`}, async (dir, manifest) => {
			const file = path.join(dir, `vda/${next}.qcow2`);
			await forgedImage(file, 0xee);
			return {
				...manifest,
				points: [
					{
						...manifest.points[0]!,
						id: next,
						files: [
							{
								...manifest.points[0]!.files[0]!,
								file: `vda/${next}.qcow2`,
								size: (await readFile(file)).length,
								sha256: await sha256(file),
							},
						],
					},
				],
			};
		});
		const copy = await lab.run('copy', 'vm1', '--target', lab.repository, '--json');
		expect(copy.exitCode, copy.stderr).toBe(0);
		expect(jsonLines(copy).at(-1)).toMatchObject({outcome: 'done', point: next, already: false});
		const mine = String(jsonLines(copy).at(-1)!['snapshot']);
		expect(mine).toMatch(/^[0-9a-f]{64}$/);
		expect(mine).not.toBe(pre);
		expect(
			jsonLines(
				await lab.run(
					'restore',
					'vm1',
					'--from',
					lab.repository,
					'--point',
					next,
					'--to',
					path.join(lab.work, 'next.qcow2'),
					'--json',
				),
			).at(-1),
		).toMatchObject({outcome: 'done', snapshot: mine});
		// Copying again finds this host's own copy there, not the forger's.
		expect(jsonLines(await lab.run('copy', 'vm1', '--target', lab.repository, '--json')).at(-1)).toMatchObject({
			outcome: 'already-there',
			snapshot: mine,
		});
	}, 30_000);

	it('a second snapshot of a real point: listed as a duplicate, verify fails naming both, the copying host restores its own, and after a disaster restore asks which (--snapshot)', async () => {
		const forged = await forge(lab, (dir, manifest) => withFile(dir, manifest, lab, 0xee));
		const ofPoint = (points: unknown) =>
			(
				points as Array<{id: string; snapshot: string; duplicate: boolean; recorded: boolean | null; host: string}>
			).filter(point => point.id === lab.point);

		const listed = await lab.run('backups', 'vm1', '--from', lab.repository);
		expect(listed.exitCode, listed.stderr).toBe(0);
		expect(listed.stdout.match(new RegExp(`${lab.point}.*DUPLICATE`, 'g'))).toHaveLength(2);
		expect(listed.stdout).toContain(`point ${lab.point} is claimed by 2 snapshots`);
		const json = ofPoint(jsonOf(await lab.run('backups', 'vm1', '--from', lab.repository, '--json'))['points']);
		expect(json.map(point => [point.snapshot, point.duplicate, point.recorded, point.host])).toEqual([
			[lab.snapshot, true, true, expect.any(String)],
			[forged, true, false, 'forger'],
		]);

		const verify = await lab.run('verify', 'vm1', '--from', lab.repository, '--read-data');
		expect(verify.exitCode).toBe(1);
		expect(verify.stdout).toContain(`point ${lab.point} is claimed by 2 snapshots`);
		expect(verify.stdout).toContain(lab.snapshot);
		expect(verify.stdout).toContain(`${forged} (copied`);
		expect(verify.stdout).toContain('by forger, not a copy this host made');
		// The host that made the copy knows its snapshot: it restores that one, and says what it ignored.
		const ours = path.join(lab.work, 'ours.qcow2');
		const restored = await lab.run('restore', 'vm1', '--from', lab.repository, '--point', lab.point, '--to', ours);
		expect(restored.exitCode, restored.stderr).toBe(0);
		expect(await qemuIo.holds(ours, 0x61, MiB, MiB)).toBe(true);
		expect(await qemuIo.holds(ours, 0xee, 0, MiB)).toBe(false);
		expect(restored.stderr).toContain(`snapshot ${forged}`);
		expect(restored.stderr).toContain('not a copy this host made: ignored');

		// A disaster: this host's record is gone with its repository. Two claims, no way to tell: refused, both shown.
		await rm(path.join(lab.work, 'repo'), {recursive: true, force: true});
		const blind = path.join(lab.work, 'blind.qcow2');
		const refused = await lab.run(
			'restore',
			'vm1',
			'--from',
			lab.repository,
			'--point',
			lab.point,
			'--to',
			blind,
			'--json',
		);
		expect(refused.exitCode).toBe(1);
		const error = jsonOf(refused)['error'] as {code: string; message: string; hint: string};
		expect(error.code).toBe('duplicate-point');
		expect(error.message).toContain(`point ${lab.point} of vm1 on ${lab.repository} is claimed by 2 snapshots`);
		for (const snapshot of [lab.snapshot, forged]) expect(error.message).toContain(snapshot);
		expect(error.message).toContain('by forger');
		expect(error.hint).toContain('--snapshot');
		expect(await readdir(lab.work)).not.toContain('blind.qcow2');
		expect(
			ofPoint(jsonOf(await lab.run('backups', 'vm1', '--from', lab.repository, '--json'))['points']).map(
				point => point.recorded,
			),
		).toEqual([null, null]);
		// The operator chooses.
		const chosen = await lab.run(
			'restore',
			'vm1',
			'--from',
			lab.repository,
			'--point',
			lab.point,
			'--snapshot',
			lab.snapshot.slice(0, 10),
			'--to',
			blind,
			'--json',
		);
		expect(chosen.exitCode, chosen.stderr).toBe(0);
		expect(jsonLines(chosen).at(-1)).toMatchObject({outcome: 'done', snapshot: lab.snapshot});
		expect(await qemuIo.holds(blind, 0x61, MiB, MiB)).toBe(true);
		const unknown = await lab.run(
			'restore',
			'vm1',
			'--from',
			lab.repository,
			'--point',
			lab.point,
			'--snapshot',
			'deadbeef',
			'--to',
			path.join(lab.work, 'none.qcow2'),
		);
		expect(unknown.exitCode).toBe(2);
		expect(unknown.stderr).toContain('no snapshot deadbeef of point');
	}, 60_000);
});
