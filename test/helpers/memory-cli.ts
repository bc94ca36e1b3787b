import {vi} from 'vitest';
import type {Hypervisor} from '../../source/adapters/hypervisor.js';
import {main} from '../../source/cli/main.js';
import {sessionPorts} from '../../source/service/session-ports.js';
import type {CliResult} from './cli.js';
import {MemoryHypervisor} from './memory-hypervisor.js';

/*
 * The command line in-process, on the in-memory hypervisor: what it prints, its exit code and what
 * it changed, without the binary or QEMU. A test file routes `memory:` connections here with
 *
 *   vi.mock('../../source/adapters/connect.js', async original => memoryConnect(await original()));
 *
 * (vi.mock is hoisted only in the test file itself). test/e2e keeps what needs the real binary and
 * the real adapters; test/contract/ holds the memory hypervisor to what they do.
 */

const labs = new Map<string, MemoryHypervisor>();
let made = 0;

/** connect.js with `memory:` URIs answered by the labs memoryCliLab made; every other URI as before. */
export function memoryConnect<Module extends {connect: (uri: string) => Promise<Hypervisor>}>(
	original: Module,
): Module {
	return {...original, connect: async (uri: string) => labs.get(uri) ?? original.connect(uri)};
}

/** Stopped VMs with empty disks on a connection of their own, and `--connect` naming it. */
export function memoryCliLab(names: string | readonly string[] = 'vm1', targets: readonly string[] = ['vda']) {
	const hypervisor = new MemoryHypervisor(`cli${++made}`);
	for (const name of typeof names === 'string' ? [names] : names) hypervisor.addVm(name, targets, 32);
	labs.set(hypervisor.uri, hypervisor);
	const service = sessionPorts(hypervisor);
	return {
		hypervisor,
		service,
		connect: ['--connect', hypervisor.uri],
		/** An external snapshot of `vm`, taken through the service (set-up, not what is tested). */
		take: (name: string, vm = 'vm1') =>
			service.perform(
				{kind: 'take', vm, request: {name, kind: 'external', now: new Date()}},
				{command: 'test', confirm: async () => true},
			),
	};
}

/**
 * Runs `snapdeck ARGS` through the command line's main, as a script would (no terminal, NO_COLOR,
 * `env` on top): its exit code and output, as test/helpers/cli.ts returns the binary's (a final
 * line break dropped). Tests of one file run one at a time, so the process's streams are borrowed.
 */
export async function runCli(
	args: readonly string[],
	env: Record<string, string | undefined> = {},
	run: (argv: string[]) => Promise<number> = main,
): Promise<CliResult> {
	const streams = {stdout: '', stderr: ''};
	const capture = (name: 'stdout' | 'stderr') =>
		vi.spyOn(process[name], 'write').mockImplementation((chunk: string | Uint8Array) => {
			streams[name] += typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8');
			return true;
		});
	const spies = [capture('stdout'), capture('stderr')];
	for (const [name, value] of Object.entries({NO_COLOR: '1', ...env})) vi.stubEnv(name, value);
	try {
		const exitCode = await run([...args]);
		return {
			exitCode,
			stdout: streams.stdout.replace(/\n$/, ''),
			stderr: streams.stderr.replace(/\n$/, ''),
			signal: undefined,
		};
	} finally {
		for (const spy of spies) spy.mockRestore();
		vi.unstubAllEnvs();
	}
}
