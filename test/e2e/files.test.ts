import {createHash} from 'node:crypto';
import {chmod, chown, link, lstat, mkdir, readdir, readFile, readlink, symlink, writeFile} from 'node:fs/promises';
import path from 'node:path';
import {execa} from 'execa';
import {describe, expect, it} from 'vitest';
import {jsonLines, jsonOf, snapdeck} from '../helpers/cli.js';
import {agentOf, guestLab, startGuest} from '../helpers/guest.js';
import {holdTempDirs, labWithVm, tempDir} from '../helpers/lab.js';
import {processesUsing} from '../helpers/processes.js';

const sha256 = (data: Buffer) => createHash('sha256').update(data).digest('hex');

describe('files inside a backup point (libguestfs), with the real Linux guest', () => {
	it("lists the point's filesystem and a folder, and copies a file and a folder out byte for byte, writing nothing to the point", async () => {
		const lab = await guestLab('files1');
		const env = {SNAPDECK_CONNECT: `local:${lab.root}`, SNAPDECK_REPO: lab.repo};
		const guest = await startGuest(lab);
		const agent = await agentOf(path.join(lab.folder, 'agent.sock'));
		// The guest writes 300 KiB of random data and a folder, and syncs; its own checksum of the data.
		const wrote = await agent.exec(
			'/bin/sh',
			[
				'-c',
				'dd if=/dev/urandom of=/data/blob bs=1024 count=300 2>/dev/null && mkdir -p "/data/a folder" && echo "inside" > "/data/a folder/note \\"quoted\\".txt" && sync && sha256sum /data/blob',
			],
			30_000,
		);
		expect(wrote.exitcode, wrote.stderr).toBe(0);
		const inGuest = wrote.stdout.split(' ')[0]!;
		agent.close();
		// A live backup of the running guest; then the guest is stopped (the rest reads only the point,
		// and an idle guest under software emulation would take CPU from the appliance's boots).
		const backup = await snapdeck(['backup', 'files1', '--json'], env);
		expect(backup.exitCode, backup.stderr).toBe(0);
		await guest.stop();
		const point = jsonLines(backup).at(-1)!['point'] as {id: string; files: Array<{file: string}>};
		const pointFile = path.join(lab.repo, 'files1', point.files[0]!.file);
		const before = sha256(await readFile(pointFile));

		// Without a path: the point's filesystems.
		const filesystems = jsonOf(await snapdeck(['files', 'files1', '--point', point.id, '--json'], env));
		expect(filesystems).toMatchObject({kind: 'filesystems', filesystems: [expect.objectContaining({type: 'ext4'})]});
		const listing = jsonOf(await snapdeck(['files', 'files1', '--point', point.id, '/data', '--json'], env)) as {
			entries: Array<{name: string; type: string; size: number}>;
		};
		expect(listing.entries).toEqual(
			expect.arrayContaining([
				expect.objectContaining({name: 'blob', type: 'file', size: 300 * 1024}),
				expect.objectContaining({name: 'a folder', type: 'directory'}),
			]),
		);

		// The whole folder in one go (one boot of libguestfs's appliance, ~23 s under TCG here): the file and the folder in it.
		const out = await tempDir();
		const copied = await snapdeck(
			['files', 'files1', '--point', point.id, '--extract', '/dev/sda:/data', '--to', out],
			env,
		);
		expect(copied.exitCode, copied.stderr).toBe(0);
		expect(sha256(await readFile(path.join(out, 'data', 'blob')))).toBe(inGuest);
		expect(await readFile(path.join(out, 'data', 'a folder', 'note "quoted".txt'), 'utf8')).toBe('inside\n');
		// Never over an existing file; and the point was only read.
		const again = await snapdeck(['files', 'files1', '--point', point.id, '--extract', '/data', '--to', out], env);
		expect(again.exitCode).toBe(2);
		expect(again.stderr).toContain('already exists; extracting never overwrites a file');
		expect(sha256(await readFile(pointFile))).toBe(before);
	}, 300_000);
});

/**
 * A VM whose disk is an ext4 filesystem (no partition table) a hostile guest could have made,
 * backed up as a point: in /evil a world-writable character device 1,1 (a twin of /dev/mem), a
 * setuid-root and a setgid binary, a FIFO, a socket, a file named with a line break, one with
 * an escape sequence and one in latin1 (not UTF-8), a link to /etc/shadow, a hard link, and a sticky folder owned by 1234.
 */
async function hostileLab(name: string) {
	const lab = await labWithVm(name);
	const src = path.join(await tempDir(), 'src');
	const evil = path.join(src, 'evil');
	await mkdir(path.join(evil, 'sub'), {recursive: true});
	await execa('mknod', ['-m', '0666', path.join(evil, 'mem'), 'c', '1', '1']);
	for (const [file, mode] of [
		['suid', 0o4755],
		['sgid', 0o2755],
	] as const) {
		await writeFile(path.join(evil, file), `#!/bin/sh\necho ${file}\n`);
		await chmod(path.join(evil, file), mode);
	}
	await execa('mkfifo', [path.join(evil, 'fifo')]);
	await execa('python3', [
		'-c',
		'import socket,sys; socket.socket(socket.AF_UNIX).bind(sys.argv[1])',
		path.join(evil, 'sock'),
	]);
	await writeFile(path.join(evil, 'new\nline'), 'line break\n');
	await writeFile(path.join(evil, 'esc\x1b[2J\x1b[31mred'), 'escape\n');
	// A latin1 name (0xE9), not UTF-8.
	await writeFile(Buffer.from(`${evil}/caf\xe9`, 'latin1'), 'latin1\n');
	await symlink('/etc/shadow', path.join(evil, 'shadow-link'));
	await writeFile(path.join(evil, 'hard1'), 'hard\n');
	await link(path.join(evil, 'hard1'), path.join(evil, 'hard2'));
	await writeFile(path.join(evil, 'sub', 'plain'), 'plain\n');
	await chown(path.join(evil, 'sub', 'plain'), 1234, 1234);
	await chown(path.join(evil, 'sub'), 1234, 1234);
	await chmod(path.join(evil, 'sub'), 0o1777);
	const raw = path.join(path.dirname(src), 'image.raw');
	await execa('truncate', ['-s', '64M', raw]);
	await execa('mkfs.ext4', ['-q', '-F', '-d', src, raw]);
	await execa('qemu-img', ['convert', '-O', 'qcow2', raw, path.join(lab.folder, 'vda.qcow2')]);
	const repo = await tempDir();
	const home = await tempDir();
	// HOME: where guestfish would leave its history file; nothing may be written there.
	const env = {SNAPDECK_CONNECT: `local:${lab.root}`, SNAPDECK_REPO: repo, HOME: home};
	const backup = await snapdeck(['backup', name, '--json'], env);
	expect(backup.exitCode, backup.stderr).toBe(0);
	const point = (jsonLines(backup).at(-1)!['point'] as {id: string}).id;
	return {...lab, repo, home, env, point};
}

/**
 * The hostile lab the tests as root share, built by the first of them (one backup, not one a
 * test): they only read its point, or kill and recover an extraction of it. Each test gets a HOME
 * of its own, so what it finds written there (nothing, or no .guestfish) is its own doing.
 */
let hostile: ReturnType<typeof hostileLab> | undefined;
async function sharedHostileLab() {
	hostile ??= hostileLab('evil').then(lab => {
		holdTempDirs();
		return lab;
	});
	const lab = await hostile;
	const home = await tempDir();
	return {...lab, home, env: {...lab.env, HOME: home}};
}

/** Every entry under `dir`: its path inside (read as UTF-8), kind, mode and owner (links not followed; names as bytes). */
async function tree(dir: string): Promise<Array<{path: string; kind: string; mode: number; uid: number}>> {
	const found: Array<{path: string; kind: string; mode: number; uid: number}> = [];
	const walk = async (folder: Buffer, inside: string) => {
		for (const name of await readdir(folder, {encoding: 'buffer'})) {
			const at = Buffer.concat([folder, Buffer.from('/'), name]);
			const stats = await lstat(at);
			const kind = stats.isFile()
				? 'file'
				: stats.isDirectory()
					? 'directory'
					: stats.isSymbolicLink()
						? 'link'
						: 'other';
			const entry = `${inside}${name.toString('utf8')}`;
			found.push({path: entry, kind, mode: stats.mode & 0o7777, uid: stats.uid});
			if (kind === 'directory') await walk(at, `${entry}/`);
		}
	};
	await walk(Buffer.from(dir), '');
	return found;
}

const asRoot = process.getuid?.() === 0;

describe('files of a hostile guest filesystem (libguestfs): data, never privileges; every entry shown, safely', () => {
	it.skipIf(!asRoot)(
		'extracts only files, folders and links, owned by the caller, with no setuid, setgid or sticky bit; devices, the FIFO and the socket are named as left out; the link is not followed',
		async () => {
			const lab = await sharedHostileLab();
			const out = await tempDir();
			const extracted = await snapdeck(
				['files', 'evil', '--point', lab.point, '--extract', '/evil', '--to', out, '--json'],
				lab.env,
			);
			expect(extracted.exitCode, extracted.stderr).toBe(0);
			const copied = await tree(path.join(out, 'evil'));
			expect(copied.map(entry => entry.path).sort()).toEqual([
				'caf\ufffd',
				'esc\x1b[2J\x1b[31mred',
				'hard1',
				'hard2',
				'new\nline',
				'sgid',
				'shadow-link',
				'sub',
				'sub/plain',
				'suid',
			]);
			for (const entry of copied) {
				expect(['file', 'directory', 'link'], entry.path).toContain(entry.kind);
				expect(entry.mode & 0o7000, `${entry.path}: no setuid, setgid or sticky bit`).toBe(0);
				expect(entry.uid, `${entry.path}: owned by the caller`).toBe(process.getuid!());
			}
			const mode = (file: string) => copied.find(entry => entry.path === file)!.mode;
			expect([mode('suid'), mode('sgid'), mode('sub'), mode('sub/plain')]).toEqual([0o755, 0o755, 0o755, 0o644]);
			// The link is a link, to where it pointed; nothing was read through it.
			expect(await readlink(path.join(out, 'evil', 'shadow-link'))).toBe('/etc/shadow');
			// A hard link became a copy of its own; names with a line break and an escape sequence kept their bytes.
			expect(await readFile(path.join(out, 'evil', 'hard2'), 'utf8')).toBe('hard\n');
			expect((await lstat(path.join(out, 'evil', 'hard2'))).ino).not.toBe(
				(await lstat(path.join(out, 'evil', 'hard1'))).ino,
			);
			expect(await readFile(path.join(out, 'evil', 'new\nline'), 'utf8')).toBe('line break\n');
			expect(await readFile(Buffer.from(`${out}/evil/caf\xe9`, 'latin1'), 'utf8')).toBe('latin1\n');
			expect(await readdir(out)).toEqual(['evil']);
			// What was left out, and what was changed, is said.
			const result = jsonOf(extracted) as {
				written: string;
				skipped: Array<{path: string; type: string}>;
				dropped: string[];
				files: number;
				links: number;
			};
			expect(result.written).toBe(path.join(out, 'evil'));
			expect(result.skipped.map(skip => `${skip.path} ${skip.type}`).sort()).toEqual([
				'/evil/fifo fifo',
				'/evil/mem char-device',
				'/evil/sock socket',
			]);
			expect(result.dropped.join('\n')).toMatch(/\/evil\/suid: setuid/);
			expect(result.dropped.join('\n')).toMatch(/\/evil\/sgid: setgid/);
			expect(result.dropped.join('\n')).toMatch(/\/evil\/sub: sticky/);
			expect(await readdir(lab.home)).toEqual([]);
		},
		400_000,
	);

	it.skipIf(!asRoot)(
		'lists every entry (devices, FIFOs, sockets, links with their targets), names with line breaks and escape sequences shown visibly as text and kept in JSON',
		async () => {
			const lab = await sharedHostileLab();
			const text = await snapdeck(['files', 'evil', '--point', lab.point, '/evil'], lab.env);
			expect(text.exitCode, text.stderr).toBe(0);
			expect(text.stdout).not.toContain('\x1b');
			const lines = text.stdout.trimEnd().split('\n');
			expect(lines).toHaveLength(12);
			expect(lines).toEqual(
				expect.arrayContaining([
					expect.stringMatching(/^crw-rw-rw- +0:0 +1,1 +mem$/),
					expect.stringMatching(/^-rwsr-xr-x .* suid$/),
					expect.stringMatching(/^-rwxr-sr-x .* sgid$/),
					expect.stringMatching(/^prw-r--r-- .* fifo$/),
					expect.stringMatching(/^srwxr-xr-x .* sock$/),
					expect.stringMatching(/^lrwxrwxrwx .* shadow-link -> \/etc\/shadow$/),
					expect.stringMatching(/^drwxrwxrwt +1234:1234 .* sub\/$/),
					expect.stringMatching(/ new\\nline$/),
					expect.stringMatching(/ esc\\x1b\[2J\\x1b\[31mred$/),
					expect.stringMatching(/ caf\\xe9$/),
				]),
			);

			// The same listing as JSON keeps the names as they are.
			const json = jsonOf(await snapdeck(['files', 'evil', '--point', lab.point, '/evil', '--json'], lab.env)) as {
				entries: Array<{name: string; escapedName: string; type: string; target?: string; device?: string}>;
			};
			expect(json.entries.map(entry => `${entry.name} ${entry.type}`).sort()).toEqual([
				'caf\ufffd file',
				'esc\x1b[2J\x1b[31mred file',
				'fifo fifo',
				'hard1 file',
				'hard2 file',
				'mem char-device',
				'new\nline file',
				'sgid file',
				'shadow-link link',
				'sock socket',
				'sub directory',
				'suid file',
			]);
			expect(json.entries.find(entry => entry.name === 'shadow-link')!.target).toBe('/etc/shadow');
			expect(json.entries.find(entry => entry.name === 'mem')!.device).toBe('1,1');
			// The escaped name gives the bytes back: what PATH and --extract take.
			expect(json.entries.find(entry => entry.name === 'caf\ufffd')!.escapedName).toBe('caf\\xe9');
			// guestfish wrote nothing in the user's home (its history file, .guestfish).
			expect(await readdir(lab.home)).toEqual([]);
		},
		400_000,
	);

	it('a point whose disks hold no filesystem is answered at once, without booting libguestfs', async () => {
		const lab = await labWithVm('blank1');
		// As the demo's disks: a pattern over the first MiBs, the rest never written.
		await lab.write(0x11, 0);
		await lab.write(0x11, 1);
		const repo = await tempDir();
		const home = await tempDir();
		const env = {SNAPDECK_CONNECT: `local:${lab.root}`, SNAPDECK_REPO: repo, HOME: home};
		const backup = await snapdeck(['backup', 'blank1', '--json'], env);
		expect(backup.exitCode, backup.stderr).toBe(0);
		const point = (jsonLines(backup).at(-1)!['point'] as {id: string}).id;
		for (const args of [[], ['/etc'], ['--extract', '/etc', '--to', path.join(home, 'out')]]) {
			const began = Date.now();
			const result = await snapdeck(['files', 'blank1', '--point', point, ...args], env);
			expect(result.exitCode, args.join(' ')).toBe(2);
			expect(result.stderr).toContain("libguestfs finds no filesystem it can read on the point's disks");
			expect(Date.now() - began, `${args.join(' ')}: answered before any appliance could boot`).toBeLessThan(8000);
		}
		expect(await readdir(home)).toEqual([]);
	}, 120_000);

	it("kill -9 in a listing, then recover: guestfish's scratch folder is removed", async () => {
		const lab = await labWithVm('scratch1');
		// Not one byte value throughout: the point may hold a filesystem, so the listing starts guestfish.
		await execa('qemu-io', ['-f', 'qcow2', '-c', 'write -P 0x22 4k 4k', path.join(lab.folder, 'vda.qcow2')]);
		const repo = await tempDir();
		const tools = await tempDir();
		const tmp = await tempDir();
		// A guestfish that kills snapdeck as it starts: the listing dies with its scratch folder made.
		await writeFile(path.join(tools, 'guestfish'), '#!/bin/sh\nkill -9 $PPID\n', {mode: 0o755});
		const env = {SNAPDECK_CONNECT: `local:${lab.root}`, SNAPDECK_REPO: repo, TMPDIR: tmp};
		const backup = await snapdeck(['backup', 'scratch1', '--json'], env);
		expect(backup.exitCode, backup.stderr).toBe(0);
		const point = (jsonLines(backup).at(-1)!['point'] as {id: string}).id;
		const scratch = async () => (await readdir(tmp)).filter(name => name.startsWith('snapdeck-guestfs-'));
		const killed = await snapdeck(['files', 'scratch1', '--point', point, '/'], {
			...env,
			SNAPDECK_GUESTFISH: path.join(tools, 'guestfish'),
		});
		expect(killed.signal, killed.stderr).toBe('SIGKILL');
		expect(await scratch()).toHaveLength(1);
		const recovered = await snapdeck(['recover', 'scratch1'], env);
		expect(recovered.exitCode, recovered.stderr).toBe(0);
		expect(recovered.stdout).toContain("guestfish's scratch folder");
		expect(await scratch()).toEqual([]);
	}, 60_000);

	it.skipIf(!asRoot)(
		'kill -9 at each step of an extraction, then recover: nothing left in the target folder, no job record, no guestfish or qemu',
		async () => {
			const lab = await sharedHostileLab();
			const jobs = path.join(lab.repo, 'evil', '.snapdeck', 'jobs');
			for (const step of ['extract:extracting', 'extract:extracted']) {
				const out = await tempDir();
				const killed = await snapdeck(['files', 'evil', '--point', lab.point, '--extract', '/evil', '--to', out], {
					...lab.env,
					SNAPDECK_CRASH_AT: step,
				});
				expect(killed.signal, `${step}: ${killed.stderr}`).toBe('SIGKILL');
				expect(
					(await readdir(out)).some(name => name.startsWith('.snapdeck-work-')),
					`${step}: its work folder is there until recover`,
				).toBe(true);
				// guestfish ends with snapdeck, and its appliance with it.
				let left = await processesUsing(lab.repo);
				for (let wait = 0; wait < 60 && left.length > 0; wait++) {
					await new Promise(resolve => setTimeout(resolve, 500));
					left = await processesUsing(lab.repo);
				}
				expect(left, `${step}: processes of the killed extraction`).toEqual([]);
				const health = jsonOf(await snapdeck(['health', 'evil', '--json'], lab.env)) as {
					findings: Array<{rule: string}>;
				};
				expect(
					health.findings.map(finding => finding.rule),
					step,
				).toContain('unfinished-job');
				const recovered = await snapdeck(['recover', 'evil'], lab.env);
				expect(recovered.exitCode, `${step}: ${recovered.stderr}`).toBe(0);
				expect(await readdir(out), `${step}: nothing left in the target folder`).toEqual([]);
				expect(await readdir(jobs), `${step}: no job record`).toEqual([]);
				const after = jsonOf(await snapdeck(['health', 'evil', '--json'], lab.env)) as {
					findings: Array<{rule: string}>;
				};
				expect(
					after.findings.map(finding => finding.rule),
					step,
				).not.toContain('unfinished-job');
			}
			// snapdeck keeps its own state there (health, recover); guestfish left nothing.
			expect(await readdir(lab.home)).not.toContain('.guestfish');
		},
		400_000,
	);
});
