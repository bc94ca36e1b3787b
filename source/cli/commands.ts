import {readFile} from 'node:fs/promises';
import path from 'node:path';
import {createInterface} from 'node:readline/promises';
import {connect, defaultDemoDir} from '../adapters/connect.js';
import {SnapdeckError} from '../core/errors.js';
import type {Plan, PlanEvent} from '../core/plan.js';
import {defaultRepositoryDir} from '../backup/repository.js';
import type {BackupPoint} from '../core/backup.js';
import type {RemotePoint} from '../core/offsite.js';
import {healthExitCode, worstOf} from '../core/health.js';
import {policyFor, type Policy} from '../core/policy.js';
import type {Config} from '../config/config.js';
import {RETENTION_RULES, type Retention} from '../core/retention.js';
import {writeFileAtomic} from '../adapters/atomic-file.js';
import {formatBytes} from '../core/units.js';
import {buildDemoLab, DEMO_VMS, startDemoVms} from '../service/demo-lab.js';
import {releaseHeldLocksSync, Service, type Action} from '../service/service.js';
import type {CliFlags} from './main.js';
import {prometheusText, renderBackups, renderHealth, renderLog, renderList, renderPlan, renderProgress, renderTree} from './render.js';

const BACKUP_COMMANDS = new Set(['backup', 'backups', 'verify', 'restore', 'prune', 'checkpoints', 'health', 'copy', 'files']);

/** The off-site target --to or --from names (a config name or a restic repository string). */
async function targetOf(text: string) {
	const {loadConfig} = await import('../config/config.js');
	const {config, path: file} = loadConfig();
	const {resolveTarget, targetRetention} = await import('../service/targets.js');
	const target = resolveTarget(config, text, file);
	return {target, retention: targetRetention(config, target)};
}

const remotePointJson = (point: RemotePoint) => ({id: point.id, kind: point.kind, parent: point.parent, createdAt: point.createdAt, copiedAt: point.copiedAt, snapshot: point.snapshot, disks: point.disks, host: point.host});

/** A point as --json shows it: the documented fields, without the VM definition it carries. */
const pointJson = (point: BackupPoint) => ({
	id: point.id, kind: point.kind, createdAt: point.createdAt, parent: point.parent, state: point.state, reason: point.reason,
	size: point.files.reduce((sum, file) => sum + file.size, 0),
	files: point.files.map(({disk, file, backing, size, sha256, virtualSize}) => ({disk, file, backing, size, sha256, virtualSize})),
	verified: point.verified, compression: point.compression,
	archive: point.archive && point.archive.map(({name, backing, size, sha256}) => ({name, backing, size, sha256})),
});

export const USAGE = `snapdeck: snapshots and backups of virtual machines

Usage:
  snapdeck                                  open the terminal UI on the default connection
  snapdeck demo [--dir DIR]                 build the demo lab (qcow2 images) and open the UI on it
  snapdeck list                             VMs: state, disks, snapshot count, chain depth
  snapdeck tree VM                          a VM's snapshot tree
  snapdeck snapshot VM NAME [--description TEXT] [--internal] [--memory] [--quiesce]
                                            take a snapshot (external disk snapshot by default)
  snapdeck revert VM SNAPSHOT               go back to a snapshot (shows the plan, asks first)
  snapdeck merge VM SNAPSHOT                delete a snapshot, merging its data (shows the plan, asks first)
  snapdeck recover VM                       finish an operation a crash or cancel interrupted
  snapdeck start VM                         start a VM from its vm.json ("qemu" settings)
  snapdeck stop VM | --all                  stop a VM (or every running VM) at once: a power-off
  snapdeck backup VM [--full|--incremental] [--limit MIB] [--no-compress] [--with-snapshots] [--quiesce]
                                            back up a VM's disks (default: incremental when its
                                            dirty bitmaps allow, else full, saying why); --limit caps
                                            each disk's read rate in MiB/s; points are zstd-compressed
                                            unless --no-compress; --with-snapshots also archives the
                                            stopped VM whole (every image of its snapshot tree), so
                                            'restore --as NAME' brings it back with its snapshots
  snapdeck backups VM [--from TARGET]       a VM's backup points (here, or on an off-site target)
  snapdeck verify VM [--point ID] [--restore-test] [--boot [--timeout S]]
                                            check points against their checksums and qemu-img check
  snapdeck files VM --point ID [PATH]       the filesystems of a point, or a folder in one (PATH:
                                            /etc, or DEVICE:/etc where there are several); read-only
  snapdeck files VM --point ID --extract PATH --to DIR
                                            copy a file or folder out of a point into DIR
  snapdeck verify VM --from TARGET [--read-data]
                                            restic's check of an off-site target: its structure and
                                            10% of its data (all of it with --read-data)
  snapdeck restore VM --point ID --instant --as NAME [--limit MIB]
                                            a new VM that runs at once from the point, its data
                                            streamed in meanwhile (recover NAME finishes a stream)
  snapdeck restore VM --point ID (--to PATH | --as NAME | --in-place) [--force] [--from TARGET]
                                            restore a point to new images, as a new VM, or over the
                                            stopped VM itself after a safety snapshot (asks first);
                                            a point that failed its last verify needs --force;
                                            --from restores from an off-site target, no local
                                            repository needed
  snapdeck copy VM [--point ID] --to TARGET copy a point (default: the newest) off-site: TARGET is a
                                            name from "offsite" in the config, or a restic repository
                                            (a path, sftp:, rest:, s3:...; password from
                                            RESTIC_PASSWORD_FILE); made there if it is new
  snapdeck prune VM [--keep-last N --keep-hourly N --keep-daily N --keep-weekly N
                    --keep-monthly N --keep-yearly N] [--dry-run]
                                            remove points by retention (Proxmox Backup Server's
                                            rules); without --keep-..., the VM's policy's; with
                                            --from TARGET, the VM's copies there (restic forget and
                                            prune; without --keep-..., the target's "retention")
  snapdeck health [VM...] [--prometheus FILE] [--now TIME]
                                            is everything healthy? findings with what to do; exit 0
                                            ok, 1 warnings, 2 critical, 3 could not tell
  snapdeck run [--now TIME]                 do what the policies' schedules say is due: snapshots
                                            (and their expiry), backups, prune, verify
  snapdeck schedule [list] | install [--dry-run]
                                            each VM's scheduled tasks; install a systemd timer
                                            (or print the crontab line) that runs 'snapdeck run'
  snapdeck checkpoints VM [--prune]         snapdeck's bitmaps (libvirt checkpoints) on a VM: which a
                                            backup still needs; --prune removes the others
  snapdeck log [VM] [--limit N]             the journal: every change snapdeck made, newest last
  snapdeck config path | show | validate [FILE] | schema
                                            the configuration file: where, as read (defaults
                                            filled in), checked, its JSON schema

Options:
  --connect URI   local:DIR, qemu:///system, qemu+ssh://USER@HOST/system, or a name from the
                  config (also SNAPDECK_CONNECT); repeat it for several (list, health, the UI,
                  where C switches between them); default: the config's, else the demo lab
  --json          machine-readable output (progress as JSON lines)
  --yes, -y       do not ask for confirmation
  --dry-run       print the plan, change nothing
  --repo DIR      the backup repository (also SNAPDECK_REPO; else the VM's policy's, or
                  "repository" in the config); default: backups/ in the user's data directory
  --now TIME      health, run, schedule: judge and act as if it were TIME (ISO 8601)
  --help, -h      this text

Exit codes: 0 done, 1 failed, 2 bad usage or input.
`;

function expectArgs(command: string, args: readonly string[], names: readonly string[]): string[] {
	if (args.length !== names.length) {
		throw new SnapdeckError('usage', `'snapdeck ${command}' takes ${names.map(name => name.toUpperCase()).join(' ') || 'no arguments'}, got ${args.length} argument${args.length === 1 ? '' : 's'}`, "see 'snapdeck --help'");
	}
	return [...args];
}

const print = (text: string) => process.stdout.write(`${text}\n`);
const printJson = (value: unknown) => process.stdout.write(`${JSON.stringify(value)}\n`);

async function askToProceed(plan: Plan, flags: CliFlags): Promise<boolean> {
	if (!flags.json) print(renderPlan(plan));
	if (flags.yes) return true;
	if (!process.stdin.isTTY) {
		throw new SnapdeckError('usage', `refusing to ${plan.action} without a confirmation, and standard input is not a terminal`, 'pass --yes to go ahead, or --dry-run to see the plan');
	}
	const prompt = createInterface({input: process.stdin, output: process.stderr});
	try {
		const answer = await prompt.question('Proceed? [y/N] ');
		return /^y(es)?$/i.test(answer.trim());
	} finally {
		prompt.close();
	}
}

/**
 * Progress to the terminal: one rewritten line on a TTY, a plain line every few seconds otherwise
 * (logs, cron mail), JSON lines with --json.
 */
function progressReporter(flags: CliFlags): (event: PlanEvent) => void {
	const tty = process.stderr.isTTY;
	let lastDraw = Date.now();
	return event => {
		if (flags.json) return printJson(event);
		if (event.type === 'step') process.stderr.write(`${tty ? '\r\x1b[K' : ''}[${event.index + 1}/${event.total}] ${event.summary}${event.resumed ? ' (resumed)' : ''}${tty ? '' : '\n'}`);
		if (event.type === 'progress' && Date.now() - lastDraw > (tty ? 200 : 5000)) {
			lastDraw = Date.now();
			process.stderr.write(tty ? `\r\x1b[K  ${renderProgress(event)}` : `  ${renderProgress(event)}\n`);
		}
		if (event.type === 'done' && tty) process.stderr.write('\n');
	};
}

async function perform(service: Service, action: Action, flags: CliFlags, command: string): Promise<number> {
	return cancellable(async signal => {
		const {plan, outcome} = await service.perform(action, {
			command, dryRun: flags['dry-run'], signal, onEvent: progressReporter(flags),
			confirm: planned => askToProceed(planned, flags),
		});
		if (flags.json) printJson({type: 'result', outcome, plan});
		else if (outcome === 'dry-run') print(`${renderPlan(plan)}\n(dry run: nothing was changed)`);
		else print(outcome === 'done' ? `done: ${plan.summary}` : 'cancelled: nothing was changed');
		return 0;
	});
}

/** The services the UI works with, one per connection; policies are read from the config when first asked for. */
export async function uiServices(uris: readonly string[], repository: string | (() => Promise<string>)): Promise<Service[]> {
	return Promise.all(uris.map(async uri => {
		const hypervisor = await connect(uri);
		return new Service(hypervisor, repository, configPolicies(hypervisor.uri));
	}));
}

/** The policy of each VM on connection `uri`, read from the config when first asked for. */
const configPolicies = (uri: string) => async () => policiesFor((await import('../config/config.js')).loadConfig().config, uri);

function parseNow(text: string | undefined): Date {
	const now = text === undefined ? new Date() : new Date(text);
	if (Number.isNaN(now.getTime())) throw new SnapdeckError('usage', `--now takes an ISO time such as 2026-11-25T12:00:00Z, got '${text}'`);
	return now;
}

/** The policy of each VM on connection `uri`, as the config's policies and connection names select it. */
function policiesFor(config: Config, uri: string): (vm: string) => Policy {
	const aliases = connectionAliases(config.connections, uri);
	return vm => policyFor(config.policies ?? [], vm, uri, aliases);
}

/** The directory of the repository a policy names (a name from "repositories", or a directory), if it names one. */
const policyRepository = (config: Config, policy: Policy): string | undefined =>
	policy.backups.repository === undefined ? undefined : config.repositories?.[policy.backups.repository] ?? policy.backups.repository;

/** When a policy's off-site copies are due: its own schedule, else its target's; undefined: after every backup. */
const offsiteSchedule = (config: Config, policy: Policy) => policy.offsite?.schedule ?? config.offsite?.[policy.offsite?.target ?? '']?.schedule;

/** The names the config gives a connection URI. */
const connectionAliases = (connections: Readonly<Record<string, string>> | undefined, uri: string) =>
	Object.entries(connections ?? {}).filter(([, target]) => target === uri || (target.startsWith('local:') && `local:${path.resolve(target.slice('local:'.length))}` === uri)).map(([name]) => name);

/**
 * The connections to use: --connect (repeatable), else SNAPDECK_CONNECT, else the config's
 * defaultConnection (one or a list), else the demo lab. Each may be a URI or a name from the
 * config's "connections".
 */
export async function connectionUris(flags: readonly string[] | undefined): Promise<string[]> {
	const chosen = flags && flags.length > 0 ? flags : process.env['SNAPDECK_CONNECT'] === undefined ? undefined : [process.env['SNAPDECK_CONNECT']];
	// A URI has a scheme (local:, qemu://, ...); a bare word names a connection in the config.
	const isUri = (text: string) => text.includes(':') || text === 'libvirt';
	if (chosen?.every(isUri)) return [...chosen];
	const {loadConfig} = await import('../config/config.js');
	const {config, path: file} = loadConfig();
	const resolve = (name: string) => {
		if (isUri(name)) return name;
		const named = config.connections?.[name];
		if (named === undefined) {
			const known = Object.keys(config.connections ?? {});
			throw new SnapdeckError('usage', `'${name}' is neither a connection URI nor a connection named in ${file}`, known.length > 0 ? `named connections: ${known.join(', ')}` : 'write it as local:DIR or qemu:///system, or name it under "connections" in the config');
		}
		return named;
	};
	if (chosen) return chosen.map(resolve);
	const fallback = config.defaultConnection ?? `local:${defaultDemoDir()}`;
	return (Array.isArray(fallback) ? fallback : [fallback]).map(resolve);
}

/** The one connection a command on a VM works on. */
export async function connectionUri(flags: readonly string[] | undefined): Promise<string> {
	const uris = await connectionUris(flags);
	if (uris.length !== 1) throw new SnapdeckError('usage', `this command works on one connection, and ${uris.length} are chosen (${uris.join(', ')})`, 'choose one with --connect');
	return uris[0]!;
}

/** The backup repository: --repo, else SNAPDECK_REPO, else the config's, else the default. */
export async function repositoryDir(flag: string | undefined, readConfig = true, forVm?: {vm: string; uri: string}): Promise<string> {
	const chosen = flag ?? process.env['SNAPDECK_REPO'];
	if (chosen !== undefined) return chosen;
	if (!readConfig) return defaultRepositoryDir();
	const {config} = (await import('../config/config.js')).loadConfig();
	// The VM's policy may name its own repository (a name from "repositories", or a directory).
	return (forVm && policyRepository(config, policiesFor(config, forVm.uri)(forVm.vm))) ?? config.repository ?? defaultRepositoryDir();
}

/** The --keep-... rules given, or null when none is. */
function retentionOf(flags: CliFlags): Retention | null {
	const retention: Record<string, number> = {};
	for (const rule of RETENTION_RULES) {
		const value = flags[`keep-${rule}`];
		if (value === undefined) continue;
		if (!/^[1-9]\d*$/.test(value)) throw new SnapdeckError('usage', `--keep-${rule} takes a whole number of 1 or more, got '${value}'`);
		retention[rule] = Number(value);
	}
	return Object.keys(retention).length === 0 ? null : retention;
}

/** How long a cancelled job may take to reach a safe point before snapdeck exits without it. */
const CANCEL_GRACE_MS = 5000;

/**
 * Runs a job that Ctrl-C, SIGTERM and SIGHUP (the SSH connection dropped) cancel at its next safe
 * point, where it cleans up, instead of the process dying in the middle. A second signal, or
 * a job still running CANCEL_GRACE_MS after the first, ends the process at once: its locks are
 * released, its child processes go with it (execa), and an unfinished plan keeps its pending
 * record for 'snapdeck recover'.
 */
function cancellable<T>(run: (signal: AbortSignal) => Promise<T>): Promise<T> {
	const controller = new AbortController();
	let timer: NodeJS.Timeout | undefined;
	const force = (name: string) => {
		releaseHeldLocksSync();
		process.stderr.write(`snapdeck: ${name}: stopped without waiting for the job to reach a safe point; 'snapdeck recover VM' finishes what it left\n`);
		process.exit(128 + (name === 'SIGINT' ? 2 : name === 'SIGHUP' ? 1 : 15));
	};
	// A listener that stays registered (not `once`): execa's exit handler re-raises a signal nobody else listens to.
	const cancel = (name: NodeJS.Signals) => {
		if (controller.signal.aborted) return force(name);
		controller.abort();
		timer = setTimeout(() => force(name), CANCEL_GRACE_MS);
		timer.unref();
	};
	const signals = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;
	for (const name of signals) process.on(name, cancel);
	return run(controller.signal).finally(() => {
		clearTimeout(timer);
		for (const name of signals) process.off(name, cancel);
	});
}

export async function runCommand(command: string, args: readonly string[], flags: CliFlags): Promise<number> {
	const commandLine = `snapdeck ${[command, ...args].join(' ')}`;
	const service = async () => {
		const hypervisor = await connect(await connectionUri(flags.connect));
		const vm = BACKUP_COMMANDS.has(command) && command !== 'health' ? args[0] : undefined;
		return new Service(hypervisor, await repositoryDir(flags.repo, BACKUP_COMMANDS.has(command), vm === undefined ? undefined : {vm, uri: hypervisor.uri}), configPolicies(hypervisor.uri));
	};
	switch (command) {
		case 'demo': {
			expectArgs(command, args, []);
			const dir = flags.dir ?? defaultDemoDir();
			const {created} = await buildDemoLab(dir, name => flags.json || process.stderr.write(`building demo VM ${name}\n`));
			const {running, note} = await startDemoVms(dir);
			if (note && !flags.json) process.stderr.write(`${note}\n`);
			if (flags.json) {
				printJson({dir, connect: `local:${dir}`, created, vms: DEMO_VMS.map(vm => vm.name), running});
				return 0;
			}
			if (!process.stdout.isTTY || !process.stdin.isTTY) {
				print(dir);
				return 0;
			}
			const repository = await repositoryDir(flags.repo, false);
			const {openUi} = await import('./open-ui.js');
			return openUi(`local:${dir}`, async () => uiServices([`local:${dir}`], repository));
		}
		case 'list': {
			expectArgs(command, args, []);
			const repository = await repositoryDir(flags.repo, false);
			const listed = await Promise.all((await connectionUris(flags.connect)).map(async uri => {
				const svc = new Service(await connect(uri), repository);
				return {connection: svc.hypervisor.uri, vms: await svc.list()};
			}));
			// One connection: the documented shape; several: one entry each.
			if (flags.json) printJson(listed.length === 1 ? listed[0] : {connections: listed});
			else print(listed.map(({connection, vms}) => renderList(connection, vms)).join('\n\n'));
			return listed.some(({vms}) => vms.some(vm => vm.error)) ? 1 : 0;
		}
		case 'tree': {
			const [vm] = expectArgs(command, args, ['vm']);
			const view = await (await service()).tree(vm!);
			if (flags.json) {
				printJson({
					vm: view.vm, current: view.current, problems: view.problems, findings: view.findings,
					pending: view.pending && {action: view.pending.plan.action, snapshot: view.pending.plan.snapshot, done: view.pending.done, total: view.pending.plan.steps.length},
					snapshots: view.snapshots.map(snapshot => ({...snapshot, current: snapshot.name === view.current})),
				});
			} else {
				print(renderTree(view));
			}
			return view.problems.length > 0 ? 1 : 0;
		}
		case 'snapshot': {
			const [vm, name] = expectArgs(command, args, ['vm', 'name']);
			const request = {name: name!, description: flags.description, kind: flags.internal ? 'internal' as const : 'external' as const, memory: flags.memory, quiesce: flags.quiesce, now: new Date()};
			return perform(await service(), {kind: 'take', vm: vm!, request}, flags, commandLine);
		}
		case 'revert':
		case 'merge': {
			const [vm, snapshot] = expectArgs(command, args, ['vm', 'snapshot']);
			return perform(await service(), {kind: command, vm: vm!, snapshot: snapshot!}, flags, commandLine);
		}
		case 'recover': {
			const [vm] = expectArgs(command, args, ['vm']);
			const plan = await (await service()).recover(vm!, {command: commandLine, onEvent: progressReporter(flags)});
			if (flags.json) printJson({type: 'result', outcome: plan ? 'done' : 'nothing-pending', plan});
			else print(plan ? `recovered: ${plan.summary}` : `${vm} has no unfinished operation`);
			return 0;
		}
		case 'start': {
			const [vm] = expectArgs(command, args, ['vm']);
			const changed = await (await service()).power(vm!, true, commandLine);
			if (flags.json) printJson({vm, state: 'running', changed});
			else print(changed ? `${vm} started` : `${vm} was already running`);
			return 0;
		}
		case 'stop': {
			const svc = await service();
			const names = flags.all ? (await svc.list()).filter(vm => vm.state === 'running').map(vm => vm.name) : expectArgs(command, args, ['vm']);
			if (flags.all) expectArgs(command, args, []);
			const stopped: string[] = [];
			for (const vm of names) if (await svc.power(vm, false, commandLine)) stopped.push(vm);
			if (flags.json) printJson({stopped});
			else print(stopped.length > 0 ? `stopped: ${stopped.join(', ')}` : 'nothing was running');
			return 0;
		}
		case 'backup': {
			const [vm] = expectArgs(command, args, ['vm']);
			if (flags.full && flags.incremental) throw new SnapdeckError('usage', '--full and --incremental exclude each other');
			if (flags.limit !== undefined && !/^[1-9]\d*$/.test(flags.limit)) throw new SnapdeckError('usage', `--limit takes a whole number of MiB per second, got '${flags.limit}'`);
			const svc = await service();
			const point = await cancellable(signal => svc.backup(vm!, {
				bytesPerSecond: flags.limit === undefined ? undefined : Number(flags.limit) * 1024 * 1024, compress: !flags['no-compress'], withSnapshots: flags['with-snapshots'], quiesce: flags.quiesce,
				mode: flags.full ? 'full' : flags.incremental ? 'incremental' : 'auto', command: commandLine, signal, onEvent: progressReporter(flags),
				onDecision: decision => (flags.json ? printJson({type: 'decision', ...decision}) : process.stderr.write(`${decision.kind} backup${decision.base ? ` over ${decision.base}` : ''}${decision.reason ? `, because ${decision.reason}` : ''}\n`)),
			}));
			if (flags.json) printJson({type: 'result', outcome: 'done', repository: svc.repository!.root, point: pointJson(point)});
			else print(`done: ${point.kind} backup ${point.id} of ${vm}, ${formatBytes(point.files.reduce((sum, file) => sum + file.size, 0))} in ${svc.repository!.vmDir(vm!)}`);
			return 0;
		}
		case 'files': {
			const [vm, inGuest] = args.length === 2 ? args : [...expectArgs(command, args, ['vm']), undefined];
			if (flags.point === undefined) throw new SnapdeckError('usage', 'files needs --point ID', `'snapdeck backups ${vm}' lists them`);
			const svc = await service();
			if (flags.extract !== undefined) {
				if (inGuest !== undefined) throw new SnapdeckError('usage', 'give the path to extract with --extract PATH alone');
				if (flags.to === undefined) throw new SnapdeckError('usage', '--extract needs --to DIR, the folder to copy into');
				const done = await cancellable(signal => svc.extractFiles(vm!, {point: flags.point!, path: flags.extract!, to: flags.to!, command: commandLine, signal}));
				if (flags.json) printJson({vm, point: flags.point, ...done});
				else print(`extracted ${done.device}:${done.path} of point ${flags.point} to ${done.written}`);
				return 0;
			}
			const listing = await cancellable(signal => svc.listFiles(vm!, {point: flags.point!, ...(inGuest === undefined ? {} : {path: inGuest}), command: commandLine, signal}));
			if (flags.json) printJson({vm, point: flags.point, ...listing});
			else if (listing.kind === 'filesystems') print(listing.filesystems.length === 0 ? 'no filesystem libguestfs can read' : listing.filesystems.map(fs => `${fs.device}  ${fs.type}`).join('\n'));
			else print(listing.entries.map(entry => `${entry.mode}  ${String(entry.size).padStart(12)}  ${entry.name}${entry.type === 'directory' ? '/' : ''}${entry.target ? ` -> ${entry.target}` : ''}`).join('\n'));
			return 0;
		}
		case 'copy': {
			const [vm] = expectArgs(command, args, ['vm']);
			if (flags.to === undefined) throw new SnapdeckError('usage', 'copy needs --to TARGET: a target named under "offsite" in the config, or a restic repository', `for example: RESTIC_PASSWORD_FILE=~/.restic-pw snapdeck copy ${vm} --to /mnt/usb/restic`);
			const {target} = await targetOf(flags.to);
			const svc = await service();
			const result = await cancellable(signal => svc.copy(vm!, target, {point: flags.point, force: flags.force, command: commandLine, signal, onEvent: progressReporter(flags)}));
			if (flags.json) printJson({type: 'result', outcome: result.already ? 'already-there' : 'done', target: target.name ?? target.repository, ...result});
			else {
				if (result.created) print(`made a new restic repository at ${target.repository}`);
				print(result.already
					? `point ${result.point} of ${vm} is already on ${target.name ?? target.repository} (snapshot ${result.snapshot.slice(0, 8)}): nothing to copy`
					: `copied point ${result.point} of ${vm} to ${target.name ?? target.repository}: snapshot ${result.snapshot.slice(0, 8)}, ${formatBytes(result.uploaded)} uploaded of ${formatBytes(result.bytes)}`);
			}
			return 0;
		}
		case 'backups': {
			const [vm] = expectArgs(command, args, ['vm']);
			if (flags.from !== undefined) {
				const {target} = await targetOf(flags.from);
				const points = await (await service()).remoteBackups(target, vm!);
				if (flags.json) printJson({vm, target: target.name ?? target.repository, points: points.map(remotePointJson)});
				else print(points.length === 0 ? `${target.name ?? target.repository} holds no point of ${vm}` : [`points of ${vm} on ${target.name ?? target.repository}:`, ...points.map(point => `  ${point.id}  ${point.kind.padEnd(11)}  ${point.disks.join(',')}  copied ${point.copiedAt.replace(/\.\d+.*$/, '')}  snapshot ${point.snapshot.slice(0, 8)}`)].join('\n'));
				return 0;
			}
			const svc = await service();
			const points = await svc.backups(vm!);
			if (flags.json) printJson({vm, repository: svc.repository!.root, points: points.map(pointJson)});
			else print(renderBackups(vm!, svc.repository!.vmDir(vm!), points));
			return 0;
		}
		case 'checkpoints': {
			const [vm] = expectArgs(command, args, ['vm']);
			const result = await (await service()).checkpoints(vm!, {prune: flags.prune, command: commandLine});
			if (flags.json) printJson({vm, ...result});
			else {
				if (result.checkpoints.length === 0) print(`${vm} carries no bitmap (checkpoint) of snapdeck's`);
				for (const checkpoint of result.checkpoints) {
					print(`${checkpoint.stale === null ? 'in use' : result.removed.includes(checkpoint.name) ? 'removed' : 'stale '}  ${checkpoint.name}  ${checkpoint.stale ?? `the next incremental into ${checkpoint.repository} follows it`}`);
				}
				if (result.left.length > 0) print(`not removed: ${result.left.join(', ')}; libvirt deletes the checkpoints of a running domain only: start ${vm} and run this again`);
				else if (!flags.prune && result.checkpoints.some(checkpoint => checkpoint.stale !== null)) print(`'snapdeck checkpoints ${vm} --prune' removes the stale ones`);
			}
			return result.left.length > 0 ? 1 : 0;
		}
		case 'verify': {
			const [vm] = expectArgs(command, args, ['vm']);
			if (flags.from !== undefined) {
				const {target} = await targetOf(flags.from);
				const svc = await service();
				const verdict = await cancellable(signal => svc.verifyFrom(target, vm!, {readData: flags['read-data'] ? 'all' : undefined, signal, command: commandLine}));
				if (flags.json) printJson({vm, target: target.name ?? target.repository, ok: verdict.ok, readData: verdict.readData, problems: verdict.problems, points: verdict.points.map(remotePointJson)});
				else print(verdict.ok ? `ok      ${target.name ?? target.repository}: ${verdict.points.length} point${verdict.points.length === 1 ? '' : 's'} of ${vm}, structure and ${verdict.readData === 'all' ? 'all' : verdict.readData} of the data read back` : `FAILED  ${target.name ?? target.repository}: ${verdict.problems.join('; ')}`);
				return verdict.ok ? 0 : 1;
			}
			const svc = await service();
			// Progress on the terminal; --json stays the one verdict object it always was.
			const verdicts = await cancellable(signal => svc.verify(vm!, {point: flags.point, restoreTest: flags['restore-test'], command: commandLine, signal, onWarning: text => process.stderr.write(`snapdeck: warning: ${text}\n`), ...(flags.json ? {} : {onEvent: progressReporter(flags)})}));
			// --boot: the point (the newest, unless named) also boots, once its files verify.
			const newest = verdicts.at(-1);
			const bootable = flags.boot && newest?.ok === true;
			if (flags.boot && !bootable) process.stderr.write(`snapdeck: not booted: ${newest ? `point ${newest.id} failed verification` : 'no point'}\n`);
			const timeout = flags.timeout === undefined ? undefined : Number(flags.timeout);
			if (timeout !== undefined && !(Number.isInteger(timeout) && timeout >= 5 && timeout <= 3600)) throw new SnapdeckError('usage', `--timeout ${flags.timeout}: give whole seconds, 5 to 3600`);
			const boot = bootable ? await cancellable(signal => svc.bootTest(vm!, {point: flags.point ?? newest.id, command: commandLine, signal, ...(timeout === undefined ? {} : {timeoutMs: timeout * 1000}), ...(flags.json ? {} : {onEvent: progressReporter(flags)})})) : null;
			if (flags.json) printJson({vm, points: verdicts, ...(flags.boot ? {boot} : {})});
			else {
				for (const verdict of verdicts) print(verdict.ok ? `ok      ${verdict.id}` : `FAILED  ${verdict.id}: ${verdict.problems.join('; ')}`);
				if (boot) print(`${boot.ok ? 'booted ' : 'NO BOOT'} ${flags.point ?? newest!.id}: ${boot.message} (console: ${boot.console}${boot.screenshot ? `, screenshot: ${boot.screenshot}` : ''}, in the VM's folder of the repository)`);
			}
			return verdicts.every(verdict => verdict.ok) && (!flags.boot || boot?.ok === true) ? 0 : 1;
		}
		case 'restore': {
			const [vm] = expectArgs(command, args, ['vm']);
			if (flags.point === undefined) throw new SnapdeckError('usage', 'restore needs --point ID', `'snapdeck backups ${vm}' lists them`);
			const svc = await service();
			if (flags['in-place']) {
				if (flags.to !== undefined || flags.as !== undefined) throw new SnapdeckError('usage', '--in-place excludes --to and --as');
				if (flags.from !== undefined) throw new SnapdeckError('usage', '--in-place restores from the local repository only', `restore it with --from ${flags.from} --to PATH (or --as NAME) instead`);
				// --dry-run: the plan is shown, then declined, so nothing changes.
				const confirm = async (plan: Plan) => (flags['dry-run'] ? false : askToProceed(plan, flags));
				const result = await cancellable(signal => svc.restoreInPlace(vm!, {point: flags.point!, force: flags.force, command: commandLine, signal, onEvent: progressReporter(flags), confirm}));
				const outcome = flags['dry-run'] ? 'dry-run' : result.outcome;
				if (flags.json) printJson({type: 'result', outcome, point: flags.point, snapshot: result.snapshot, plan: result.plan});
				else if (outcome === 'dry-run') print(`${renderPlan(result.plan)}\n(dry run: nothing was changed)`);
				else print(result.outcome === 'done' ? `restored point ${flags.point} over ${vm}; the state before is snapshot '${result.snapshot}' (revert to it to undo)` : 'cancelled: nothing was changed');
				return 0;
			}
			if (flags.instant) {
				if (flags.as === undefined || flags.to !== undefined || flags.from !== undefined) throw new SnapdeckError('usage', '--instant needs --as NAME (the new VM), from the local repository', `snapdeck restore ${vm} --point ${flags.point} --instant --as NAME`);
				const limit = flags.limit === undefined ? undefined : Number(flags.limit);
				if (limit !== undefined && !(limit > 0)) throw new SnapdeckError('usage', `--limit ${flags.limit}: give MiB/s, a positive number`);
				const done = await cancellable(signal => svc.restoreInstant(vm!, {
					point: flags.point!, as: flags.as!, command: commandLine, signal, onEvent: progressReporter(flags),
					...(limit === undefined ? {} : {bytesPerSecond: limit * 1024 * 1024}),
					onStarted: name => process.stderr.write(`${name} is running (from the repository, while its data streams in)\n`),
				}));
				if (flags.json) printJson({type: 'result', outcome: 'done', point: done.point, vm: done.vm, startedAfterMs: Math.round(done.startedAfterMs)});
				else print(`restored point ${done.point} of ${vm} as VM ${done.vm}: running ${(done.startedAfterMs / 1000).toFixed(1)} s after the command began; its disks no longer read the repository`);
				return 0;
			}
			const options = {point: flags.point!, to: flags.to, as: flags.as, force: flags.force, command: commandLine, onEvent: progressReporter(flags)};
			const from = flags.from === undefined ? null : (await targetOf(flags.from)).target;
			const restored = await cancellable(signal => (from ? svc.restoreFrom(from, vm!, {...options, signal}) : svc.restore(vm!, {...options, signal})));
			if (flags.json) printJson({type: 'result', outcome: 'done', point: flags.point, restored, vm: flags.as ?? null});
			else print(`restored point ${flags.point} of ${vm}${from ? ` from ${from.name ?? from.repository}` : ''}${flags.as ? ` as VM ${flags.as}` : ''}: ${Object.entries(restored).map(([disk, file]) => `${disk} -> ${file}`).join(', ')}`);
			return 0;
		}
		case 'prune': {
			const [vm] = expectArgs(command, args, ['vm']);
			const svc = await service();
			if (flags.from !== undefined) {
				const {target, retention: configured} = await targetOf(flags.from);
				const retention = retentionOf(flags) ?? (configured && Object.keys(configured).length > 0 ? configured : null);
				if (!retention) throw new SnapdeckError('usage', `prune --from needs --keep-... rules, and the target sets no "retention" to use instead`, 'for example --keep-last 7 --keep-weekly 4, or "retention" under the target in "offsite" of the config');
				const plan = await svc.planPruneFrom(target, vm!, retention);
				const lines = [`prune ${vm} on ${plan.target}: keep ${plan.keep.length}, forget ${plan.remove.length}`, ...plan.remove.map(point => `  forget ${point.id} (${point.kind}, snapshot ${point.snapshot.slice(0, 8)})`), ...plan.keep.map(point => `  keep   ${point.id} (${point.kind})`)];
				const outcome = plan.remove.length === 0 ? 'nothing' : flags['dry-run'] ? 'dry-run' : await (async () => {
					if (!flags.json) print(lines.join('\n'));
					if (!flags.yes) {
						if (!process.stdin.isTTY) throw new SnapdeckError('usage', 'refusing to forget off-site copies without a confirmation, and standard input is not a terminal', 'pass --yes to go ahead, or --dry-run to see the plan');
						const prompt = createInterface({input: process.stdin, output: process.stderr});
						const answer = await prompt.question('Proceed? [y/N] ').finally(() => prompt.close());
						if (!/^y(es)?$/i.test(answer.trim())) return 'declined';
					}
					await cancellable(signal => svc.pruneFrom(target, vm!, plan, {signal, command: commandLine}));
					return 'done';
				})();
				if (flags.json) printJson({type: 'result', outcome, target: target.name ?? target.repository, keep: plan.keep.map(remotePointJson), remove: plan.remove.map(remotePointJson)});
				else if (outcome === 'nothing') print(`nothing to prune on ${plan.target}: all ${plan.keep.length} points are kept`);
				else if (outcome === 'dry-run') print(`${lines.join('\n')}\n(dry run: nothing was changed)`);
				else print(outcome === 'done' ? `done: forgot ${plan.remove.length} point${plan.remove.length === 1 ? '' : 's'} on ${plan.target} and pruned their data` : 'declined: nothing was changed');
				return 0;
			}
			// No --keep-... rule: the VM's policy's retention, as `snapdeck run` prunes by.
			let retention = retentionOf(flags);
			if (retention === null) {
				const policy = await svc.retentionOf(vm!);
				if (!policy.retention) throw new SnapdeckError('usage', `prune needs --keep-... rules, and ${vm}'s policy ('${policy.policy}') sets no backups.retention to use instead`, 'for example --keep-last 7 --keep-weekly 4, or set "backups": {"retention": {...}} in the policy');
				retention = policy.retention;
			}
			const result = await cancellable(signal => svc.prune(vm!, {retention, dryRun: flags['dry-run'], command: commandLine, signal, onEvent: progressReporter(flags), confirm: plan => askToProceed(plan, flags), onWarning: text => process.stderr.write(`snapdeck: warning: ${text}\n`)}));
			if (flags.json) printJson({type: 'result', outcome: result.outcome, keep: result.keep, remove: result.remove, plan: result.plan});
			else if (result.outcome === 'resumed') print(`finished the interrupted prune: ${result.plan.summary}`);
			else if (result.remove.length === 0) print(`nothing to prune: all ${result.keep.length} points are kept`);
			else if (result.outcome === 'dry-run') print(`${renderPlan(result.plan)}\n(dry run: nothing was changed)`);
			else print(result.outcome === 'done' ? `done: ${result.plan.summary}` : 'cancelled: nothing was changed');
			return 0;
		}
		case 'health': {
			const now = parseNow(flags.now);
			const {loadConfig} = await import('../config/config.js');
			const {config} = loadConfig();
			const uris = await connectionUris(flags.connect);
			if (uris.length > 1 && args.length > 0) throw new SnapdeckError('usage', 'name VMs only with one connection', 'choose it with --connect');
			const repository = await repositoryDir(flags.repo);
			const checked = await Promise.all(uris.map(async uri => {
				const svc = new Service(await connect(uri), repository);
				const vms = await svc.health({now, only: args.length > 0 ? args : undefined, policyOf: policiesFor(config, svc.hypervisor.uri)});
				return {connection: svc.hypervisor.uri, vms};
			}));
			const findings = checked.flatMap(({vms}) => vms.flatMap(vm => vm.findings));
			const status = worstOf(findings);
			if (flags.prometheus !== undefined) await writeFileAtomic(path.resolve(flags.prometheus), prometheusText(checked, now));
			const vmsJson = (vms: typeof checked[number]['vms']) => vms.map(vm => ({name: vm.vm, status: worstOf(vm.findings), policy: vm.policy, findings: vm.findings}));
			if (flags.json) {
				printJson(checked.length === 1
					? {status, connection: checked[0]!.connection, checkedAt: now.toISOString(), vms: vmsJson(checked[0]!.vms), findings}
					: {status, checkedAt: now.toISOString(), connections: checked.map(({connection, vms}) => ({connection, status: worstOf(vms.flatMap(vm => vm.findings)), vms: vmsJson(vms)})), findings});
			} else {
				print(checked.map(({connection, vms}) => renderHealth(connection, vms, worstOf(vms.flatMap(vm => vm.findings)))).join('\n'));
			}
			return healthExitCode(status);
		}
		case 'run': {
			expectArgs(command, args, []);
			const now = parseNow(flags.now);
			const {config} = (await import('../config/config.js')).loadConfig();
			const svc = await service();
			const defaultRepo = await repositoryDir(flags.repo);
			const {runDue} = await import('../service/scheduler.js');
			const {resolveTarget} = await import('../service/targets.js');
			const runs = await runDue(svc, {
				now, command: commandLine,
				policyOf: policiesFor(config, svc.hypervisor.uri),
				repositoryFor: policy => policyRepository(config, policy) ?? defaultRepo,
				targetFor: name => resolveTarget(config, name),
				offsiteSchedule: policy => offsiteSchedule(config, policy),
				onLine: line => flags.json || print(line),
			});
			if (flags.json) printJson({now: now.toISOString(), runs});
			else if (runs.length === 0) print('nothing is due');
			return runs.some(run => run.outcome === 'failed') ? 1 : 0;
		}
		case 'schedule': {
			const [what] = args;
			const {config} = (await import('../config/config.js')).loadConfig();
			if (what === 'install' && args.length === 1) {
				const {installSchedule} = await import('./schedule-install.js');
				print(await installSchedule({print: flags['dry-run']}));
				return 0;
			}
			if (what !== undefined && what !== 'list') throw new SnapdeckError('usage', "'snapdeck schedule' takes list or install [--dry-run]");
			const svc = await service();
			const uri = svc.hypervisor.uri;
			const names = svc.hypervisor.names ? await svc.hypervisor.names() : (await svc.list()).map(vm => vm.name);
			const {scheduleOverview} = await import('../service/schedule-state.js');
			const overview = await scheduleOverview(uri, names, policiesFor(config, uri), parseNow(flags.now), policy => offsiteSchedule(config, policy));
			if (flags.json) printJson({connection: uri, tasks: overview});
			else print(overview.length === 0 ? 'no VM has a scheduled task (see "policies" in the README)' : overview.map(task => `${task.vm}  ${task.task}  "${task.schedule}"  last: ${task.lastRun ?? 'never'}${task.lastOutcome ? ` (${task.lastOutcome})` : ''}  next: ${task.nextRun ?? '-'}`).join('\n'));
			return 0;
		}
		case 'log': {
			if (args.length > 1) throw new SnapdeckError('usage', "'snapdeck log' takes at most one VM");
			const limit = flags.limit === undefined ? 50 : Number(flags.limit);
			if (!Number.isInteger(limit) || limit < 1) throw new SnapdeckError('usage', `--limit takes a whole number, got '${flags.limit}'`);
			const {readJournal, journalFile} = await import('../adapters/journal.js');
			const records = (await readJournal()).filter(record => args.length === 0 || record.vm === args[0]).slice(-limit);
			if (flags.json) printJson({journal: journalFile(), records});
			else print(renderLog(records));
			return 0;
		}
		case 'config': {
			const [what, file] = args;
			const {loadConfig, validateConfig, configJsonSchema} = await import('../config/config.js');
			if (what === 'schema' && args.length === 1) return printJson(configJsonSchema()), 0;
			if (what === 'validate' && file !== undefined && args.length === 2) {
				let json: unknown;
				try {
					json = JSON.parse(await readFile(file, 'utf8'));
				} catch (error) {
					throw new SnapdeckError('input', `${file} cannot be read as JSON: ${(error as Error).message}`);
				}
				validateConfig(json, file);
				print(flags.json ? JSON.stringify({file, valid: true}) : `${file}: valid`);
				return 0;
			}
			if (!['path', 'show', 'validate'].includes(what ?? '') || args.length !== 1) {
				throw new SnapdeckError('usage', "'snapdeck config' takes path, show, validate [FILE] or schema", "see 'snapdeck --help'");
			}
			const {config, path: configPath} = loadConfig();
			if (what === 'path') print(flags.json ? JSON.stringify({path: configPath}) : configPath);
			if (what === 'show') printJson(config);
			if (what === 'validate') print(flags.json ? JSON.stringify({file: configPath, valid: true}) : `${configPath}: valid`);
			return 0;
		}
		default:
			throw new SnapdeckError('usage', `unknown command '${command}'`, "see 'snapdeck --help'");
	}
}
