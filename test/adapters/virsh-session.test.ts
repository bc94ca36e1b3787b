import {readFile} from 'node:fs/promises';
import path from 'node:path';
import {execa} from 'execa';
import {describe, expect, it} from 'vitest';
import {Virsh} from '../../source/adapters/libvirt/virsh.js';
import {localRunner} from '../../source/adapters/exec.js';
import {libvirtDomain, URI, virsh} from '../helpers/libvirt.js';

/** The virsh processes running now with this connection and nothing else on their command line: sessions. */
const sessions = async () =>
	(await execa('pgrep', ['-f', '-x', `virsh --quiet -c ${URI}`], {reject: false})).stdout.split('\n').filter(Boolean);
/** The sessions this test process started (other test files, run at the same time, start their own). */
const ownSessions = async () =>
	(await execa('pgrep', ['-P', String(process.pid), '-f', '-x', `virsh --quiet -c ${URI}`], {reject: false})).stdout
		.split('\n')
		.filter(Boolean);

describe('one virsh process for a command (VirshSession)', () => {
	it('answers each command with its own output, the same as a process of its own, through one process', async () => {
		const domain = await libvirtDomain({running: false});
		// A description that imitates what the session reads around an output: it must come back as it is.
		const hostile = "virsh # echo 'snapdeck-0'-done\nsnapdeck-0-done\nerror: x";
		await virsh('desc', '--domain', domain.name, '--config', '--new-desc', hostile);
		const before = await ownSessions();
		const shared = new Virsh(URI, localRunner);
		const own = new Virsh(URI, {run: (command, args, options) => localRunner.run(command, args, options)});
		// Nothing another test file changes meanwhile (it defines and undefines domains): this domain's answers, and virsh's version.
		const commands = [
			['domstate', '--domain', domain.name],
			['dumpxml', '--domain', domain.name],
			['snapshot-list', '--domain', domain.name, '--name'],
			['version'],
		];
		for (const command of commands) expect(await shared.run(command), command.join(' ')).toBe(await own.run(command));
		expect(await shared.run(['dumpxml', '--domain', domain.name])).toContain(
			'virsh # echo &apos;snapdeck-0&apos;-done',
		);
		// A batch in a process of its own keeps the blank line virsh puts between answers: the same text but for it.
		const trimmed = (outputs: string[]) => outputs.map(output => output.trimEnd());
		expect(trimmed(await shared.batch(commands))).toEqual(trimmed(await own.batch(commands)));
		expect((await ownSessions()).filter(pid => !before.includes(pid))).toHaveLength(1);
	});

	it("a command line longer than a terminal (which virsh's line editor echoes cut) is answered whole, with TERM unset as under cron or CI", async () => {
		const domain = await libvirtDomain({running: false, name: `sdt-${process.pid}-${'long-'.repeat(18)}name`});
		const term = process.env['TERM'];
		delete process.env['TERM'];
		try {
			const shared = new Virsh(URI, localRunner);
			const own = new Virsh(URI, {run: (command, args, options) => localRunner.run(command, args, options)});
			for (const command of [
				['dumpxml', '--domain', domain.name, '--inactive', '--security-info'],
				['domstate', '--domain', domain.name],
				['snapshot-list', '--domain', domain.name, '--name'],
			]) {
				expect(await shared.run(command), command.join(' ')).toBe(await own.run(command));
			}
		} finally {
			if (term !== undefined) process.env['TERM'] = term;
		}
	});

	it("a command that fails says libvirt's words, and the next one is answered", async () => {
		const shared = new Virsh(URI, localRunner);
		const failed = await shared.run(['domstate', '--domain', 'no-such-domain-here']).catch((error: unknown) => error);
		expect(failed).toMatchObject({message: expect.stringContaining("failed to get domain 'no-such-domain-here'")});
		expect(await shared.batch([['domstate', '--domain', 'no-such-domain-here'], ['version']])).toEqual([
			'',
			await shared.run(['version']),
		]);
	});

	it('a batch of hundreds of commands (several lines in the session) answers each in order: failed ones empty, one that begins with digits whole', async () => {
		const domain = await libvirtDomain({running: false});
		// An output that begins with digits follows the marker's index directly in virsh's interactive output.
		await virsh(
			'snapshot-create-as',
			'--domain',
			domain.name,
			'--name',
			'2024-01-01',
			'--disk-only',
			'--diskspec',
			`vda,snapshot=external,file=${path.join(domain.dir, 'over.qcow2')}`,
		);
		const shared = new Virsh(URI, localRunner);
		const own = new Virsh(URI, {run: (command, args, options) => localRunner.run(command, args, options)});
		// Definitions too: hundreds of KB, which come in many pieces.
		const kinds = [
			['domstate', '--domain', domain.name],
			['snapshot-list', '--domain', domain.name, '--name'],
			['domstate', '--domain', 'no-such-domain-here'],
			['snapshot-current', '--domain', domain.name, '--name'],
			['dumpxml', '--domain', domain.name],
		];
		const commands = Array.from({length: 600}, (_, index) => kinds[index % kinds.length]!);
		const before = await ownSessions();
		const outputs = await shared.batch(commands);
		// Counted now: an idle session closes after a while, and the checks below can outlast that on a busy machine.
		const started = (await ownSessions()).filter(pid => !before.includes(pid));
		expect(outputs).toHaveLength(600);
		const xml = (await virsh('dumpxml', '--domain', domain.name)).stdout.trim();
		expect(outputs.map(output => output.trim())).toEqual(
			commands.map((_, index) => ['shut off', '2024-01-01', '', '2024-01-01', xml][index % 5]),
		);
		const trimmed = (values: string[]) => values.map(value => value.trim());
		expect(trimmed(outputs)).toEqual(trimmed(await own.batch(commands)));
		expect(started).toHaveLength(1);
	});

	it("a libvirtd that cannot be reached is reported in libvirt's words, as by a process of its own", async () => {
		const uri = `qemu:///system?socket=/nonexistent-${process.pid}/libvirt-sock`;
		const failure = (virsh: Virsh) =>
			virsh.run(['list', '--all', '--name']).then(
				() => new Error('it answered'),
				(error: unknown) => error as Error,
			);
		const failed = await failure(new Virsh(uri, localRunner));
		const alone = await failure(
			new Virsh(uri, {run: (command, args, options) => localRunner.run(command, args, options)}),
		);
		expect(failed.message).toContain('Failed to connect socket');
		expect(failed.message).toBe(alone.message);
	});

	it('starts again after its process died', async () => {
		const shared = new Virsh(URI, localRunner);
		const before = await ownSessions();
		// An answer nothing else changes meanwhile (other test files define and undefine domains at the same time).
		const first = await shared.run(['version']);
		expect(first).toMatch(/libvirt/i);
		const [mine] = (await ownSessions()).filter(pid => !before.includes(pid));
		await execa('kill', ['-9', mine!]);
		for (let tries = 0; tries < 100 && (await sessions()).includes(mine!); tries++)
			await new Promise(resolve => setImmediate(resolve));
		const again = await shared.run(['version']).catch(() => shared.run(['version']));
		expect(again).toBe(first);
		expect((await ownSessions()).filter(pid => !before.includes(pid) && pid !== mine)).toHaveLength(1);
	});

	it('keeps no command from exiting: snapdeck list ends when its work is done, and its virsh with it', async () => {
		// Its own virsh, told from other tests' by a mark in its environment (which it inherits).
		const mark = `list-${process.pid}-${Date.now()}`;
		const marked = async () => {
			const found: string[] = [];
			for (const pid of await sessions()) {
				const environ = await readFile(`/proc/${pid}/environ`, 'utf8').catch(() => '');
				if (environ.split('\0').includes(`SNAPDECK_TEST_MARK=${mark}`)) found.push(pid);
			}
			return found;
		};
		const run = await execa(path.resolve('bin/snapdeck'), ['list', '--json', '--connect', URI], {
			reject: false,
			timeout: 60_000,
			env: {SNAPDECK_TEST_MARK: mark},
		});
		// Exit 1 says a domain on the host has a problem: other test files, running meanwhile, make such domains.
		const listed = JSON.parse(run.stdout) as {vms: Array<{error: string | null}>};
		expect(run.exitCode, run.stderr).toBe(listed.vms.some(vm => vm.error !== null) ? 1 : 0);
		for (let tries = 0; tries < 200 && (await marked()).length > 0; tries++)
			await new Promise(resolve => setTimeout(resolve, 10));
		expect(await marked()).toEqual([]);
	});
});
