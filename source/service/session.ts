import path from 'node:path';
import {connect, defaultDemoDir} from '../adapters/connect.js';
import {defaultRepositoryDir} from '../backup/repository.js';
import {errorMessage, SnapdeckError} from '../core/errors.js';
import type {HealthVerdict} from '../core/notifications.js';
import {policyFor, type Policy} from '../core/policy.js';
import type {Config} from '../config/config.js';
import {sessionPorts} from './session-ports.js';
import type {Inventory, Jobs, Ports} from './ports.js';

/*
 * Sessions: the connections, repository and policies a command or the UI works with, resolved
 * from the flags, the environment and the configuration. The command line and the UI open their
 * sessions here, get them as ports (ports.ts), and import nothing below the service.
 */

/** The off-site target --to or --from names (a config name or a restic repository string). */
export async function targetOf(text: string) {
	const {loadConfig} = await import('../config/config.js');
	const {config, path: file} = loadConfig();
	const {resolveTarget, targetRetention} = await import('./targets.js');
	const target = resolveTarget(config, text, file);
	return {target, retention: targetRetention(config, target)};
}

/** The services the UI works with, one per connection; policies are read from the config when first asked for. */
export async function uiServices(
	uris: readonly string[],
	repository: string | (() => Promise<string>),
	named = repositoryNamed(undefined),
): Promise<Ports[]> {
	return Promise.all(
		uris.map(async uri => {
			const hypervisor = await connect(uri);
			return sessionPorts(hypervisor, {
				...(typeof repository === 'string' ? {repository} : {findRepository: repository}),
				policies: configPolicies(hypervisor.uri),
				named,
			});
		}),
	);
}

/** Whether the repository was named on the command line or in the environment (--repo, SNAPDECK_REPO): then nothing is written outside it (see SessionOptions.named). */
export const repositoryNamed = (flag: string | undefined) =>
	flag !== undefined || process.env['SNAPDECK_REPO'] !== undefined;

/** The policy of each VM on connection `uri`, read from the config when first asked for. */
export const configPolicies = (uri: string) => async () =>
	policiesFor((await import('../config/config.js')).loadConfig().config, uri);

/** The policy of each VM on connection `uri`, as the config's policies and connection names select it. */
export function policiesFor(config: Config, uri: string): (vm: string) => Policy {
	const aliases = connectionAliases(config.connections, uri);
	return vm => policyFor(config.policies ?? [], vm, uri, aliases);
}

/** The directory of the repository a policy names (a name from "repositories", or a directory), if it names one. */
export const policyRepository = (config: Config, policy: Policy): string | undefined =>
	policy.backups.repository === undefined
		? undefined
		: (config.repositories?.[policy.backups.repository] ?? policy.backups.repository);

/** When a policy's off-site copies are due: its own schedule, else its target's; undefined: after every backup. */
export const offsiteSchedule = (config: Config, policy: Policy) =>
	policy.offsite?.schedule ?? config.offsite?.[policy.offsite?.target ?? '']?.schedule;

/** The names the config gives a connection URI. */
export const connectionAliases = (connections: Readonly<Record<string, string>> | undefined, uri: string) =>
	Object.entries(connections ?? {})
		.filter(
			([, target]) =>
				target === uri ||
				(target.startsWith('local:') && `local:${path.resolve(target.slice('local:'.length))}` === uri),
		)
		.map(([name]) => name);

/**
 * The connections to use: --connect (repeatable), else SNAPDECK_CONNECT, else the config's
 * defaultConnection (one or a list), else the demo lab. Each may be a URI or a name from the
 * config's "connections".
 */
export async function connectionUris(flags: readonly string[] | undefined): Promise<string[]> {
	const chosen =
		flags && flags.length > 0
			? flags
			: process.env['SNAPDECK_CONNECT'] === undefined
				? undefined
				: [process.env['SNAPDECK_CONNECT']];
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
			throw new SnapdeckError(
				'usage',
				`'${name}' is neither a connection URI nor a connection named in ${file}`,
				known.length > 0
					? `named connections: ${known.join(', ')}`
					: 'write it as local:DIR or qemu:///system, or name it under "connections" in the config',
			);
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
	if (uris.length !== 1)
		throw new SnapdeckError(
			'usage',
			`this command works on one connection, and ${uris.length} are chosen (${uris.join(', ')})`,
			'choose one with --connect',
		);
	return uris[0]!;
}

/** The backup repository: --repo, else SNAPDECK_REPO, else the config's, else the default. */
export async function repositoryDir(
	flag: string | undefined,
	readConfig = true,
	forVm?: {vm: string; uri: string},
): Promise<string> {
	const chosen = flag ?? process.env['SNAPDECK_REPO'];
	if (chosen !== undefined) return chosen;
	if (!readConfig) return defaultRepositoryDir();
	const {config} = (await import('../config/config.js')).loadConfig();
	// The VM's policy may name its own repository (a name from "repositories", or a directory).
	return (
		(forVm && policyRepository(config, policiesFor(config, forVm.uri)(forVm.vm))) ??
		config.repository ??
		defaultRepositoryDir()
	);
}

/**
 * The service for a command on one connection (--connect, else the default): its repository
 * --repo, else SNAPDECK_REPO, else (for a command on a VM's backups) the VM's policy's, else the
 * config's; its policies from the config, read when first needed.
 */
export async function openSession(options: {
	connect: readonly string[] | undefined;
	repo: string | undefined;
	backups?: boolean;
	vm?: string;
}): Promise<Ports> {
	const hypervisor = await connect(await connectionUri(options.connect));
	const repository = await repositoryDir(
		options.repo,
		options.backups ?? false,
		options.vm === undefined ? undefined : {vm: options.vm, uri: hypervisor.uri},
	);
	return sessionPorts(hypervisor, {
		repository: repository,
		policies: configPolicies(hypervisor.uri),
		named: repositoryNamed(options.repo),
	});
}

/** The service on connection `uri` (one of those connectionUris chose), with the repository given. */
export async function openSessionOn(uri: string, options: {repository: string; named?: boolean}): Promise<Ports> {
	const hypervisor = await connect(uri);
	return sessionPorts(hypervisor, {
		repository: options.repository,
		policies: configPolicies(hypervisor.uri),
		named: options.named ?? false,
	});
}

/**
 * A connection as its session names it (connection.uri), without opening it: a local: lab by its
 * absolute folder, `libvirt` by the URI it stands for. Metrics of a connection that could not be
 * opened carry the same label as when it can.
 */
export const canonicalUri = (uri: string) =>
	uri.startsWith('local:') && uri.length > 'local:'.length
		? `local:${path.resolve(uri.slice('local:'.length))}`
		: uri === 'libvirt'
			? (process.env['LIBVIRT_DEFAULT_URI'] ?? 'qemu:///system')
			: uri;

/** A service per connection chosen (list, health), all on one repository. */
export async function openSessions(options: {
	connect: readonly string[] | undefined;
	repository: string;
	named?: boolean;
}): Promise<Ports[]> {
	return Promise.all(
		(await connectionUris(options.connect)).map(async uri => {
			const hypervisor = await connect(uri);
			return sessionPorts(hypervisor, {
				repository: options.repository,
				policies: configPolicies(hypervisor.uri),
				named: options.named ?? false,
			});
		}),
	);
}

/** The configuration as read (defaults filled in), and where from. */
export const readSettings = async () => (await import('../config/config.js')).loadConfig();

/** Writes a report (the Prometheus textfile) atomically, with `mode`: a reader sees the old file or the new one. */
export const writeReport = async (file: string, text: string, mode: number) =>
	(await import('../adapters/state/atomic-file.js')).writeFileAtomic(path.resolve(file), text, {mode});

/**
 * The journal's newest `limit` records (of one VM, or of all), oldest first: those of the connection
 * `connection` (another host's VM of the same name is another VM), or every one when it is null.
 * A repository named on the command line keeps its jobs' lines in itself only: they are read from
 * there. `hidden` counts the records of other connections (and older lines that name none) left out.
 */
export async function journalRecords(
	vm: string | null,
	limit: number,
	scope: {connection: string | null; repository?: string | null} = {connection: null},
) {
	const {readJournal, journalFile} = await import('../adapters/state/journal.js');
	let records = await readJournal();
	if (scope.repository && vm !== null) {
		const {Repository} = await import('../backup/repository.js');
		const seen = new Set(
			records.map(record => JSON.stringify([record.time, record.vm, record.action, record.outcome])),
		);
		for (const file of await new Repository(scope.repository).journalFiles(vm)) {
			for (const record of await readJournal(file)) {
				if (!seen.has(JSON.stringify([record.time, record.vm, record.action, record.outcome])))
					records.push({...record, connection: record.connection ?? `repository ${scope.repository}`});
			}
		}
		records = records.sort((a, b) => a.time.localeCompare(b.time));
	}
	const mine = records.filter(record => vm === null || record.vm === vm);
	const shown = scope.connection === null ? mine : mine.filter(record => record.connection === scope.connection);
	return {file: journalFile(), records: shown.slice(-limit), hidden: mine.length - shown.length};
}

/** A connection as journal lines name it: a local: lab by its absolute folder. */
export const journalConnection = (uri: string) =>
	uri.startsWith('local:') ? `local:${path.resolve(uri.slice('local:'.length))}` : uri;

/** The configuration's module (read, validate, its JSON schema), loaded when first needed. */
export const settingsModule = () => import('../config/config.js');

/** `config validate FILE`: the file checked as a configuration, read as something from outside (a regular file, small, never echoed). */
export async function validateConfigFile(file: string): Promise<void> {
	const {CONFIG_MAX_BYTES, notConfiguration, validateConfigText} = await settingsModule();
	const {readSmallFile} = await import('../adapters/safe-fs.js');
	const text = await readSmallFile(file, CONFIG_MAX_BYTES, notConfiguration(file));
	if (text === null)
		throw new SnapdeckError('not-found', `there is no file ${file}`, 'name the configuration to check');
	validateConfigText(text, file);
}

/**
 * `snapdeck run`: what the policies' schedules say is due on the session's connection, each VM's
 * points in its policy's repository (else `defaultRepository`), off-site targets from the config.
 */
export async function runSchedules(
	service: Inventory & Jobs,
	options: {
		now: Date;
		command: string;
		defaultRepository: string;
		onLine: (line: string) => void;
		onNotifyFailure: (line: string) => void;
	},
) {
	const {config} = await readSettings();
	const {resolveTarget} = await import('./targets.js');
	const runs = await service.runScheduled({
		now: options.now,
		command: options.command,
		policyOf: policiesFor(config, service.connection.uri),
		repositoryFor: policy => policyRepository(config, policy) ?? options.defaultRepository,
		targetFor: name => resolveTarget(config, name),
		offsiteSchedule: policy => offsiteSchedule(config, policy),
		onLine: options.onLine,
	});
	const failures = runs.filter(run => run.outcome === 'failed');
	if (failures.length > 0)
		await tellJobFailures(service.connection.uri, failures, options.now, options.onNotifyFailure);
	return runs;
}

/**
 * The config's notifiers. A configuration that cannot be read is said so in a few words: the
 * command reports it in full, and its words were printed twice.
 */
async function configuredNotifiers() {
	const settings = await readSettings().catch(() => {
		throw new Error('the configuration could not be read');
	});
	return settings.config.notify ?? [];
}

/**
 * Failed scheduled jobs (or `snapdeck run` itself, with vm null) to the config's notifiers.
 * Never throws: a notification that cannot be sent must not fail the run; `onFailure` hears why.
 */
export async function tellJobFailures(
	connection: string,
	failures: ReadonlyArray<{vm: string | null; task: string; message?: string; actions: readonly string[]}>,
	now: Date,
	onFailure: (line: string) => void,
): Promise<void> {
	try {
		const notifiers = await configuredNotifiers();
		if (notifiers.length === 0) return;
		const {notifyJobFailures} = await import('./deliver-notifications.js');
		reportDeliveries(await notifyJobFailures(notifiers, connection, failures, now), onFailure);
	} catch (error) {
		onFailure(`snapdeck: notifications were not sent: ${errorMessage(error)}`);
	}
}

/** A health run's verdict on each connection to the config's notifiers, each change once; never throws. */
export async function tellHealthChanges(
	verdicts: ReadonlyArray<{connection: string; verdict: HealthVerdict}>,
	now: Date,
	onFailure: (line: string) => void,
): Promise<void> {
	try {
		const notifiers = await configuredNotifiers();
		if (notifiers.length === 0) return;
		const {notifyHealth} = await import('./deliver-notifications.js');
		const sent = await Promise.all(
			verdicts.map(({connection, verdict}) => notifyHealth(notifiers, connection, verdict, now)),
		);
		reportDeliveries(sent.flat(), onFailure);
	} catch (error) {
		onFailure(`snapdeck: notifications were not sent: ${errorMessage(error)}`);
	}
}

const reportDeliveries = (
	deliveries: ReadonlyArray<{ok: boolean; notifier: string; title: string; attempts: number; error?: string}>,
	onFailure: (line: string) => void,
) => {
	for (const delivery of deliveries) {
		if (!delivery.ok)
			onFailure(
				`snapdeck: could not notify ${delivery.notifier} of "${delivery.title}" (${delivery.attempts} attempts): ${delivery.error}`,
			);
	}
};

/** `snapdeck notify test`: a test message to each notifier of the config. */
export async function testNotifiers(now: Date) {
	const notifiers = (await readSettings()).config.notify ?? [];
	const {notifyTest} = await import('./deliver-notifications.js');
	return {count: notifiers.length, deliveries: await notifyTest(notifiers, now)};
}

/** Every VM's scheduled tasks on the session's connection, with their last and next runs. */
export async function scheduledTasks(service: Inventory, now: Date) {
	const {config} = await readSettings();
	const uri = service.connection.uri;
	const names = await service.names();
	const {scheduleOverview} = await import('./schedule-state.js');
	return scheduleOverview(uri, names, policiesFor(config, uri), now, policy => offsiteSchedule(config, policy));
}

export {defaultDemoDir};

/** For an exit that cannot wait: every lock this process holds, released at once. */
export {releaseHeldLocksSync} from '../adapters/state/lock.js';

/**
 * Checks a receipt file offline: the signature by `publicKey` (PEM; default: this user's key),
 * over the receipt as it is. What it proves, in one line, when valid; why not, when not.
 */
export async function receiptCheck(
	file: string,
	publicKeyFile?: string,
): Promise<{ok: boolean; file: string; keyId: string | null; summary?: string; why?: string}> {
	const {readReceipt} = await import('../backup/receipts.js');
	const keys = await import('../adapters/state/receipt-key.js');
	const receipt = await readReceipt(file);
	const key = publicKeyFile === undefined ? await keys.ownPublicKey() : await keys.publicKeyFile(publicKeyFile);
	if (key === null)
		throw new SnapdeckError(
			'usage',
			'this user has no receipt key to check against',
			"pass the signer's public key: --key receipts-ed25519.pub",
		);
	const {ok, keyId} = keys.receiptValid(receipt, key);
	const body = receipt.receipt;
	return ok
		? {
				ok,
				file,
				keyId,
				summary: `${body.proved} of point ${body.point} of ${body.vm} at ${body.at} on ${body.host} (${body.files.length} files), signed by key ${keyId}: ${body.how}`,
			}
		: {
				ok,
				file,
				keyId,
				why:
					receipt.keyId === keyId
						? 'the receipt was changed after it was signed'
						: `it is not signed by key ${keyId} (it names key ${receipt.keyId}), or it was changed after it was signed`,
			};
}
