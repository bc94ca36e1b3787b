import {describe, expect, it, vi} from 'vitest';
import {jsonLines} from '../helpers/cli.js';
import {memoryCliLab, runCli} from '../helpers/memory-cli.js';

vi.mock('../../source/adapters/connect.js', async original =>
	(await import('../helpers/memory-cli.js')).memoryConnect(await original()),
);

/**
 * The changing commands' words, flags and JSON lines, in-process on the in-memory hypervisor.
 * What the data then holds on real images is the contract's (test/contract/), and the binary's
 * own run on a real lab is test/e2e/cli.test.ts's.
 */
describe('changing commands', () => {
	it('show the plan and change nothing with --dry-run; refuse to act unasked without a terminal', async () => {
		const {hypervisor, connect, take} = memoryCliLab();
		await take('s1');
		const before = {definition: hypervisor.definitionOf('vm1'), images: [...hypervisor.images.keys()]};

		const dry = await runCli(['merge', 'vm1', 's1', '--dry-run', ...connect]);
		expect(dry.exitCode).toBe(0);
		expect(dry.stdout).toContain('Plan: merge away external snapshot');
		expect(dry.stdout).toContain('dry run: nothing was changed');

		const unasked = await runCli(['revert', 'vm1', 's1', ...connect]);
		expect(unasked.exitCode).toBe(2);
		expect(unasked.stderr).toContain('pass --yes');

		expect({definition: hypervisor.definitionOf('vm1'), images: [...hypervisor.images.keys()]}).toEqual(before);
	});

	it('start and stop say what happened to the VM named, in the same words', async () => {
		const {connect} = memoryCliLab();
		expect((await runCli(['start', 'vm1', ...connect])).stdout).toBe('vm1 started');
		expect((await runCli(['start', 'vm1', ...connect])).stdout).toBe('vm1 was already running');
		expect((await runCli(['stop', 'vm1', ...connect])).stdout).toBe('vm1 stopped');
		expect((await runCli(['stop', 'vm1', ...connect])).stdout).toBe('vm1 was not running');
		expect((await runCli(['stop', '--all', ...connect])).stdout).toBe('nothing was running');
	});

	it('stream progress as JSON lines and end with the result', async () => {
		const {hypervisor, connect, take} = memoryCliLab();
		hypervisor.write('vm1', 0x11, 1);
		await take('s1');
		hypervisor.write('vm1', 0x22, 2);
		const run = await runCli(['merge', 'vm1', 's1', '--yes', '--json', ...connect]);
		expect(run.exitCode).toBe(0);
		const lines = jsonLines(run);
		expect(lines[0]).toMatchObject({type: 'step', index: 0, total: 3});
		expect(lines.filter(line => line['type'] === 'done')).toHaveLength(3);
		expect(lines.at(-1)).toMatchObject({
			type: 'result',
			outcome: 'done',
			plan: {action: 'merge', vm: 'vm1', snapshot: 's1'},
		});
		const active = hypervisor.activeFile('vm1');
		expect([hypervisor.read(active, 1), hypervisor.read(active, 2)]).toEqual([0x11, 0x22]);
	});

	it('take a snapshot with a description, internal on request', async () => {
		const {hypervisor, connect} = memoryCliLab();
		const run = await runCli([
			'snapshot',
			'vm1',
			'before-upgrade',
			'--description',
			'it\'s "quoted"; $(x)',
			'--internal',
			'--yes',
			...connect,
		]);
		expect(run.exitCode).toBe(0);
		expect(hypervisor.definitionOf('vm1').snapshots[0]).toMatchObject({
			name: 'before-upgrade',
			kind: 'internal',
			description: 'it\'s "quoted"; $(x)',
		});
	});

	it('a description holding a line break stays on its snapshot\'s line in the tree: it cannot pass for a snapshot or the "you are here" mark', async () => {
		const {connect} = memoryCliLab();
		const forged = 'upgrade\n└─ fake  [external, 1d ago]  <- you are here';
		await runCli(['snapshot', 'vm1', 's1', '--description', forged, '--yes', ...connect]);
		await runCli(['snapshot', 'vm1', 's2', '--yes', ...connect]);
		const tree = await runCli(['tree', 'vm1', ...connect]);
		expect(tree.exitCode).toBe(0);
		const lines = tree.stdout.trimEnd().split('\n');
		expect(lines).toHaveLength(3);
		expect(lines[1]).toMatch(
			/^s1 {2}\[external, .* ago\] {2}upgrade\\n└─ fake {2}\[external, 1d ago\] {2}<- you are here$/,
		);
		expect(lines.filter(line => line.endsWith('<- you are here'))).toEqual([lines[1], lines[2]]);
		expect(lines[2]).toMatch(/^└─ s2 /);
	});
});

describe('help, from the command registry', () => {
	it('lists every command; each has its own help with its own options; a flag a command does not take is refused and changes nothing', async () => {
		const {COMMANDS} = await import('../../source/cli/commands/command-registry.js');
		const global = await runCli(['--help']);
		expect(global.exitCode).toBe(0);
		for (const command of COMMANDS) expect(global.stdout).toContain(`  snapdeck ${command.name}`);
		expect(global.stdout).toContain("'snapdeck help COMMAND'");

		const viaHelp = await runCli(['help', 'restore']);
		const viaFlag = await runCli(['restore', '--help']);
		expect(viaHelp.exitCode).toBe(0);
		expect(viaFlag.stdout).toBe(viaHelp.stdout);
		expect(viaHelp.stdout).toContain("Options of 'snapdeck restore':");
		expect(viaHelp.stdout).toMatch(/--in-place +over the stopped VM's own disks/);
		expect(viaHelp.stdout).not.toContain('--keep-daily');
		// A command without options of its own lists only those of every command.
		expect((await runCli(['help', 'tree'])).stdout).not.toContain("Options of 'snapdeck tree'");

		const unknown = await runCli(['help', 'frobnicate']);
		expect([unknown.exitCode, unknown.stderr]).toEqual([
			2,
			expect.stringContaining('the commands are: demo, list, tree'),
		]);

		const {hypervisor, connect} = memoryCliLab();
		const wrong = await runCli(['snapshot', 'vm1', 's1', '--keep-daily', '3', '--yes', ...connect]);
		expect([wrong.exitCode, wrong.stderr]).toEqual([
			2,
			expect.stringContaining("'snapdeck snapshot' does not take --keep-daily"),
		]);
		expect(wrong.stderr).toContain("see 'snapdeck help snapshot'");
		expect(hypervisor.definitionOf('vm1').snapshots).toEqual([]);
	});
});
