import {readFileSync} from 'node:fs';
import {readdir, readFile, stat} from 'node:fs/promises';
import path from 'node:path';
import {execa} from 'execa';
import {describe, expect, it} from 'vitest';
import type {JobKind} from '../../source/core/job-kinds.js';
import {jsonLines, jsonOf, snapdeck, type CliResult} from './cli.js';
import {labWithVm, MiB, qemuImg, qemuIo, tempDir} from './lab.js';
import {libvirtDomain, URI} from './libvirt.js';
import {runningLab} from './live.js';
import {cheapenResticKeys} from './restic-key.js';

/**
 * The fault suite (test/e2e/fault-suite*.test.ts): every kind of job the runner knows (core/job-kinds.ts) is killed outright
 * (SIGKILL) at every step it declares, in each of its variants; then `snapdeck recover` runs. After
 * it nothing is lost (the data reads as it should, the repository verifies), nothing is left (no
 * work folder, no job record, no throwaway VM, no mark), and health is quiet only once nothing is
 * left. A kind declared without a scenario here fails the first test: a new kind of job is
 * covered by being declared, or the suite says it is not.
 */

/** Kinds whose kills are proved in other files (the literal KIND:STEP of each step must be there). */
export const ELSEWHERE: Partial<Record<JobKind, string>> = {
	'restore-in-place': 'test/e2e/faults.test.ts',
	extract: 'test/e2e/files.test.ts',
};

interface Context {
	/** Runs snapdeck with the variant's connection and repository. */
	readonly run: (args: string[], env?: Record<string, string>) => Promise<CliResult>;
	/** The VM recover is run for. */
	readonly vm: string;
	/** Where leftovers could be: the lab, the repository, targets. */
	readonly dirs: readonly string[];
	/** Checks that nothing was lost (and the job can be done again), after recover. */
	readonly check: (step: string) => Promise<void>;
	/** Between the kill and recover (stop the new VM, kill its QEMU). */
	readonly between?: () => Promise<void>;
}

interface Variant {
	readonly name: string;
	readonly steps: readonly string[];
	/** Made once for every step: the job changes nothing its next run needs (each step's own target comes from `args`). */
	readonly once?: boolean;
	readonly setup: () => Promise<Context & {readonly args: readonly string[] | ((step: string) => readonly string[])}>;
}

const A = 0xa1;
const B = 0xb2;
const point = (result: CliResult) => (jsonLines(result).at(-1)!['point'] as {id: string}).id;

/** A lab VM backed up once into a repository of its own; the local adapter. */
async function localBackedUp(options: {live?: boolean} = {}) {
	const lab = options.live ? await runningLab('vm1', ['vda'], 16) : await labWithVm('vm1', ['vda'], 16);
	if (options.live) await (lab as Awaited<ReturnType<typeof runningLab>>).guestWrite(A, 1);
	else await lab.write(A, 1);
	const repo = path.join(await tempDir(), 'repo');
	const run = (args: string[], env: Record<string, string> = {}) =>
		snapdeck([...args, '--connect', `local:${lab.root}`, '--repo', repo], env);
	const first = await run(['backup', 'vm1', '--json']);
	expect(first.exitCode, first.stderr).toBe(0);
	return {lab, repo, run, id: point(first)};
}

/** After recover: the repository verifies, and one more backup of the VM completes (nothing it needs was lost). */
const backupsStillWork =
	(run: Context['run'], vm = 'vm1') =>
	async () => {
		const verify = await run(['verify', vm]);
		expect(
			verify.exitCode === 0 || (jsonOf(await run(['backups', vm, '--json']))['points'] as unknown[]).length === 0,
			verify.stdout + verify.stderr,
		).toBe(true);
		const again = await run(['backup', vm]);
		expect(again.exitCode, again.stderr).toBe(0);
		expect((await run(['verify', vm])).exitCode).toBe(0);
	};

/** restic's password for the suite's targets. */
async function resticEnv() {
	const file = path.join(await tempDir(), 'pw');
	await execa('sh', ['-c', `umask 077; echo fault-suite > '${file}'`]);
	return {RESTIC_PASSWORD_FILE: file};
}

/** A target the suite's restic opens at a millisecond's KDF cost from now on (test/helpers/restic-key.ts). */
const cheapen = async (target: string) => {
	if (await stat(path.join(target, 'keys')).catch(() => null)) await cheapenResticKeys(target, 'fault-suite');
};

export const SCENARIOS: Record<Exclude<JobKind, keyof typeof ELSEWHERE>, readonly Variant[]> = {
	backup: [
		{
			name: 'offline',
			steps: ['recorded', 'copied', 'hashed'],
			setup: async () => {
				const {lab, repo, run} = await localBackedUp();
				await lab.write(B, 2);
				return {run, vm: 'vm1', dirs: [lab.root, repo], args: ['backup', 'vm1'], check: backupsStillWork(run)};
			},
		},
		{
			name: 'offline, audited',
			steps: ['auditing'],
			setup: async () => {
				const {lab, repo, run} = await localBackedUp();
				await lab.write(B, 2);
				return {
					run,
					vm: 'vm1',
					dirs: [lab.root, repo],
					args: ['backup', 'vm1', '--audit'],
					check: backupsStillWork(run),
				};
			},
		},
		{
			name: 'offline, with its snapshots',
			steps: ['archiving'],
			setup: async () => {
				const {lab, repo, run} = await localBackedUp();
				await lab.take('s1');
				return {
					run,
					vm: 'vm1',
					dirs: [lab.root, repo],
					args: ['backup', 'vm1', '--with-snapshots'],
					check: backupsStillWork(run),
				};
			},
		},
		{
			name: 'live',
			steps: ['recorded', 'copied', 'hashed'],
			setup: async () => {
				const {lab, repo, run} = await localBackedUp({live: true});
				await (lab as Awaited<ReturnType<typeof runningLab>>).guestWrite(B, 2);
				return {run, vm: 'vm1', dirs: [lab.root, repo], args: ['backup', 'vm1'], check: backupsStillWork(run)};
			},
		},
		{
			name: 'libvirt, pull mode (a compressed full of a running domain)',
			steps: ['recorded', 'copied', 'hashed'],
			setup: async () => {
				const domain = await libvirtDomain({sizeMiB: 16});
				await domain.guestWrite(A, 1);
				const repo = path.join(await tempDir(), 'repo');
				const run = (args: string[], env: Record<string, string> = {}) =>
					snapdeck([...args, '--connect', URI, '--repo', repo], env);
				return {
					run,
					vm: domain.name,
					dirs: [domain.dir, repo],
					args: ['backup', domain.name, '--full'],
					check: backupsStillWork(run, domain.name),
				};
			},
		},
	],
	restore: [
		{
			name: 'to a path',
			steps: ['writing', 'written', 'placed'],
			once: true,
			setup: async () => {
				const {lab, repo, run, id} = await localBackedUp();
				const out = await tempDir();
				const target = (step: string) => path.join(out, `${step}.qcow2`);
				return {
					run,
					vm: 'vm1',
					dirs: [lab.root, repo, out],
					args: (step: string) => ['restore', 'vm1', '--point', id, '--to', target(step)],
					check: async (step: string) => {
						// Either whole under its name, or not there at all; then the same restore completes.
						if (!(await stat(target(step)).catch(() => null)))
							expect((await run(['restore', 'vm1', '--point', id, '--to', target(step)])).exitCode).toBe(0);
						expect(await qemuIo.holds(target(step), A, MiB, MiB)).toBe(true);
					},
				};
			},
		},
		{
			name: 'as a new VM',
			steps: ['writing', 'written', 'placed'],
			once: true,
			setup: async () => {
				const {lab, repo, run, id} = await localBackedUp();
				return {
					run,
					vm: 'vm1',
					dirs: [lab.root, repo],
					args: (step: string) => ['restore', 'vm1', '--point', id, '--as', `copy-${step}`],
					check: async (step: string) => {
						const made = await stat(path.join(lab.root, `copy-${step}`)).catch(() => null);
						if (!made) expect((await run(['restore', 'vm1', '--point', id, '--as', `copy-${step}`])).exitCode).toBe(0);
						expect(await qemuIo.holds(path.join(lab.root, `copy-${step}`, 'vda.qcow2'), A, MiB, MiB)).toBe(true);
						expect((await run(['list', '--json'])).exitCode).toBe(0);
					},
				};
			},
		},
	],
	'restore-instant': (['running', 'stopped afterwards', 'its QEMU killed afterwards'] as const).map(after => ({
		name: `the new VM ${after}`,
		steps: after === 'running' ? ['marked', 'created', 'started', 'streaming', 'streamed'] : ['started', 'streaming'],
		setup: async () => {
			const {lab, repo, run, id} = await localBackedUp({live: true});
			const folder = path.join(lab.root, 'fast1');
			// Killed before it was started, the new VM was never running: recover copies the rest in offline too.
			const stoppedAt = (step: string) => after !== 'running' || step === 'marked' || step === 'created';
			return {
				run,
				vm: 'fast1',
				dirs: [lab.root, repo],
				args: ['restore', 'vm1', '--point', id, '--instant', '--as', 'fast1', '--limit', '1'],
				between: async () => {
					if (after === 'stopped afterwards') expect((await run(['stop', 'fast1'])).exitCode).toBe(0);
					if (after === 'its QEMU killed afterwards')
						process.kill(
							Number((await readFile(path.join(folder, '.snapdeck', 'qemu.pid'), 'utf8')).trim()),
							'SIGKILL',
						);
				},
				check: async (step: string) => {
					const made = await stat(folder).catch(() => null);
					if (made) {
						// A VM its operator stopped is not started again; its disk stands alone and reads as the point.
						const state = (jsonOf(await run(['list', '--json']))['vms'] as Array<{name: string; state: string}>).find(
							vm => vm.name === 'fast1',
						)!.state;
						expect(state, step).toBe(stoppedAt(step) ? 'stopped' : 'running');
						const disk = path.join(folder, 'vda.qcow2');
						const {stdout} = await execa('qemu-img', ['info', '-U', '--output=json', disk]);
						expect((JSON.parse(stdout) as {'backing-filename'?: string})['backing-filename'], step).toBeUndefined();
						if (stoppedAt(step))
							expect(await qemuImg.same(disk, path.join(repo, 'vm1', 'vda', `${id}.qcow2`)), step).toBe(true);
						if (!stoppedAt(step)) expect((await run(['stop', 'fast1'])).exitCode).toBe(0);
					}
					expect(await readdir(path.join(repo, 'vm1', '.snapdeck', 'instant')).catch(() => []), step).toEqual([]);
					// Prune is let in again.
					const prune = await run(['prune', 'vm1', '--keep-last', '1', '--yes']);
					expect(prune.exitCode, prune.stderr).toBe(0);
				},
			};
		},
	})),
	'restore-from': [
		{
			name: 'a local restic target, to a path',
			steps: ['fetched', 'checked', 'writing', 'written', 'placed'],
			once: true,
			setup: async () => {
				const {lab, repo, run, id} = await localBackedUp();
				const env = await resticEnv();
				const target = path.join(await tempDir(), 'restic');
				expect((await run(['copy', 'vm1', '--target', target], env)).exitCode).toBe(0);
				await cheapen(target);
				const out = await tempDir();
				const restored = (step: string) => path.join(out, `${step}.qcow2`);
				const withEnv = (args: string[], more: Record<string, string> = {}) => run(args, {...env, ...more});
				return {
					run: withEnv,
					vm: 'vm1',
					dirs: [lab.root, repo, out, target],
					args: (step: string) => ['restore', 'vm1', '--from', target, '--point', id, '--to', restored(step)],
					check: async (step: string) => {
						if (!(await stat(restored(step)).catch(() => null)))
							expect(
								(await withEnv(['restore', 'vm1', '--from', target, '--point', id, '--to', restored(step)])).exitCode,
							).toBe(0);
						expect(await qemuIo.holds(restored(step), A, MiB, MiB)).toBe(true);
					},
				};
			},
		},
	],
	copy: [
		{
			name: 'to a local restic target',
			steps: ['staged', 'uploaded'],
			setup: async () => {
				const {lab, repo, run, id} = await localBackedUp();
				const env = await resticEnv();
				const target = path.join(await tempDir(), 'restic');
				const withEnv = (args: string[], more: Record<string, string> = {}) => run(args, {...env, ...more});
				return {
					run: withEnv,
					vm: 'vm1',
					dirs: [lab.root, repo],
					args: ['copy', 'vm1', '--target', target],
					check: async () => {
						await cheapen(target);
						expect((await withEnv(['copy', 'vm1', '--target', target])).exitCode).toBe(0);
						expect(
							(
								jsonOf(await withEnv(['backups', 'vm1', '--from', target, '--json']))['points'] as Array<{id: string}>
							).map(remote => remote.id),
						).toEqual([id]);
					},
				};
			},
		},
	],
	'prune-offsite': [
		{
			name: 'a local restic target',
			steps: ['forgetting', 'forgotten'],
			setup: async () => {
				const {lab, repo, run} = await localBackedUp();
				const env = await resticEnv();
				const target = path.join(await tempDir(), 'restic');
				const withEnv = (args: string[], more: Record<string, string> = {}) => run(args, {...env, ...more});
				expect((await withEnv(['copy', 'vm1', '--target', target])).exitCode).toBe(0);
				await cheapen(target);
				await lab.write(B, 2);
				expect((await withEnv(['backup', 'vm1'])).exitCode).toBe(0);
				expect((await withEnv(['copy', 'vm1', '--target', target])).exitCode).toBe(0);
				return {
					run: withEnv,
					vm: 'vm1',
					dirs: [lab.root, repo],
					args: ['prune', 'vm1', '--from', target, '--keep-last', '1', '--yes'],
					check: async () => {
						expect((await withEnv(['prune', 'vm1', '--from', target, '--keep-last', '1', '--yes'])).exitCode).toBe(0);
						expect(
							jsonOf(await withEnv(['backups', 'vm1', '--from', target, '--json']))['points'] as unknown[],
						).toHaveLength(1);
						expect((await withEnv(['verify', 'vm1', '--from', target, '--read-data'])).exitCode).toBe(0);
						// No lock of restic's is left on the target.
						expect(
							(
								await execa('restic', ['-r', target, 'list', 'locks', '--no-lock'], {env: {...process.env, ...env}})
							).stdout.trim(),
						).toBe('');
					},
				};
			},
		},
	],
	'boot-test': [
		{
			name: 'local (a VM without a guest OS: no sign of life within 5 s)',
			steps: ['overlays', 'booting', 'judged'],
			once: true,
			setup: async () => {
				const {lab, repo, run, id} = await localBackedUp({live: true});
				return {
					run,
					vm: 'vm1',
					dirs: [lab.root, repo],
					args: ['verify', 'vm1', '--point', id, '--boot', '--timeout', '5'],
					check: async (step: string) => {
						// A killed boot test gives the point no verdict; the next one does.
						const boot = () =>
							JSON.parse(readFileText(path.join(repo, 'vm1', 'manifest.json'))).points[0].boot as {ok: boolean} | null;
						expect(boot(), step).toBeNull();
						if (step !== 'judged') return;
						expect((await run(['verify', 'vm1', '--point', id, '--boot', '--timeout', '5'])).exitCode).toBe(1);
						expect(boot()).toMatchObject({ok: false});
					},
				};
			},
		},
		{
			name: 'libvirt (a domain without a guest OS: no sign of life within 5 s)',
			steps: ['overlays', 'booting', 'judged'],
			once: true,
			setup: async () => {
				const domain = await libvirtDomain({sizeMiB: 16, running: false});
				const repo = path.join(await tempDir(), 'repo');
				const run = (args: string[], env: Record<string, string> = {}) =>
					snapdeck([...args, '--connect', URI, '--repo', repo], env);
				const first = await run(['backup', domain.name, '--json']);
				expect(first.exitCode, first.stderr).toBe(0);
				const id = point(first);
				return {
					run,
					vm: domain.name,
					dirs: [domain.dir, repo],
					args: ['verify', domain.name, '--point', id, '--boot', '--timeout', '5'],
					check: async (step: string) => {
						expect((await execa('virsh', ['-c', URI, 'list', '--name'])).stdout).not.toContain(
							`${domain.name}-boottest`,
						);
						if (step === 'judged')
							expect((await run(['verify', domain.name, '--point', id, '--boot', '--timeout', '5'])).exitCode).toBe(1);
					},
				};
			},
		},
	],
	verify: [
		{
			name: 'with a restore test',
			steps: ['hashing', 'restore-test'],
			once: true,
			setup: async () => {
				const {lab, repo, run, id} = await localBackedUp();
				return {
					run,
					vm: 'vm1',
					dirs: [lab.root, repo],
					args: ['verify', 'vm1', '--point', id, '--restore-test'],
					check: backupsStillWork(run),
				};
			},
		},
	],
	start: [],
	stop: [],
	checkpoints: [],
};

const readFileText = (file: string) => readFileSync(file, 'utf8');

/** What a job could have left under `dirs`: work folders, job records, instant marks; and throwaway VMs anywhere. */
async function leftovers(dirs: readonly string[]): Promise<string[]> {
	const found: string[] = [];
	const walk = async (dir: string, depth: number): Promise<void> => {
		for (const entry of await readdir(dir, {withFileTypes: true}).catch(() => [])) {
			const full = path.join(dir, entry.name);
			if (entry.name.startsWith('.snapdeck-work-') || entry.name.endsWith('.snapdeck-partial')) found.push(full);
			else if (path.basename(dir) === 'jobs' && entry.name.endsWith('.json')) found.push(full);
			else if (path.basename(dir) === 'instant' && entry.name.endsWith('.json')) found.push(full);
			else if (entry.isDirectory() && depth < 4 && !['data', 'index', 'snapshots', 'keys'].includes(entry.name))
				await walk(full, depth + 1);
		}
	};
	for (const dir of dirs) await walk(dir, 0);
	const {stdout} = await execa('pgrep', ['-af', 'boottest'], {reject: false});
	found.push(
		...stdout.split('\n').filter(line => dirs.some(dir => line.includes(dir)) && line.includes('qemu-system')),
	);
	return found;
}

/** The findings health gives (on every VM of the connection) that say something is left unfinished. */
async function unfinished(run: Context['run']): Promise<string[]> {
	const result = await run(['health', '--json']);
	if (result.exitCode === 3) return [];
	const vms = (jsonOf(result)['vms'] ?? []) as Array<{findings: Array<{rule: string; message: string}>}>;
	return vms
		.flatMap(entry => entry.findings)
		.filter(finding => /^(unfinished-job|unfinished-operation|instant-unfinished)$/.test(finding.rule))
		.map(finding => `${finding.rule}: ${finding.message}`);
}

/** Which file of the suite runs which kinds (so that both workers share them): together, every kind of SCENARIOS. */
export const SUITE_PARTS = {
	local: ['backup', 'restore', 'restore-instant', 'verify'],
	remote: ['restore-from', 'copy', 'prune-offsite', 'boot-test'],
} as const satisfies Record<string, readonly JobKind[]>;

/** Kills each variant of each of `kinds` at each of its steps, then recovers and checks (see the fault suite's files). */
export function killAtEveryStep(kinds: readonly JobKind[]) {
	describe('kill -9 at every step of every kind of job, then recover: nothing lost, nothing left, health quiet only then', () => {
		for (const [kind, variants] of (Object.entries(SCENARIOS) as Array<[JobKind, readonly Variant[]]>).filter(
			([kind]) => kinds.includes(kind),
		)) {
			for (const variant of variants) {
				it(`${kind}: ${variant.name}`, async () => {
					const shared = variant.once ? await variant.setup() : null;
					for (const step of variant.steps) {
						const context = shared ?? (await variant.setup());
						const args = typeof context.args === 'function' ? context.args(step) : context.args;
						const crashed = await context.run([...args], {SNAPDECK_CRASH_AT: `${kind}:${step}`});
						expect(crashed.signal, `${kind}:${step} was reached: ${crashed.stderr}`).toBe('SIGKILL');
						await context.between?.();
						const left = await leftovers(context.dirs);
						// Health names what was left (the record of the killed job), and is quiet once it is gone.
						if (left.length > 0)
							expect(await unfinished(context.run), `${kind}:${step} left ${left.join(', ')}`).not.toEqual([]);
						const recovered = await context.run(['recover', context.vm]);
						expect(recovered.exitCode, `${kind}:${step}: ${recovered.stdout}${recovered.stderr}`).toBe(0);
						expect(
							(await leftovers(context.dirs)).join('; '),
							`${kind}:${step}: left after recover: ${recovered.stdout}`,
						).toBe('');
						expect(await unfinished(context.run), `${kind}:${step}: health after recover`).toEqual([]);
						await context.check(step);
						expect((await leftovers(context.dirs)).join('; '), `${kind}:${step}: left after the job ran again`).toBe(
							'',
						);
					}
				}, 300_000);
			}
		}
	});
}
