import {createHash} from 'node:crypto';
import os from 'node:os';
import path from 'node:path';
import {z} from 'zod';
import {loadExeca} from '../adapters/exec.js';
import {writeJsonAtomic} from '../adapters/state/atomic-file.js';
import {journalFile} from '../adapters/state/journal.js';
import {readStateFile, stateFolder} from '../adapters/safe-fs.js';
import {errorMessage} from '../core/errors.js';
import {
	applyChange,
	forgetGone,
	healthChanges,
	healthEvent,
	jobFailedEvent,
	mailMessage,
	maskSecrets,
	notifierLabel,
	notifierWants,
	NotifiedState,
	ntfyPriority,
	testEvent,
	webhookBody,
	type HealthVerdict,
	type Notifier,
	type NotifyEvent,
} from '../core/notifications.js';

/** How one event went to one notifier. Nothing in it carries a secret of the notifier's URL. */
export interface Delivery {
	readonly notifier: string;
	readonly event: NotifyEvent['kind'];
	readonly title: string;
	readonly ok: boolean;
	readonly attempts: number;
	readonly error?: string;
}

/** Attempts per delivery, and the wait before the second (doubled before each next). */
const ATTEMPTS = 3;
const BACKOFF_MS = 500;

/**
 * Sends one event, retrying a failed attempt twice after 0.5 and 1 s; each attempt is bounded by
 * the notifier's timeout. Never throws: a failure is a Delivery that says why, secrets masked.
 */
export async function deliver(notifier: Notifier, event: NotifyEvent): Promise<Delivery> {
	const about = {notifier: notifierLabel(notifier), event: event.kind, title: event.title};
	let error = '';
	for (let attempt = 1; attempt <= ATTEMPTS; attempt++) {
		try {
			await sendOnce(notifier, event);
			return {...about, ok: true, attempts: attempt};
		} catch (failure) {
			error = maskSecrets(notifier, describeFailure(failure, notifier.timeout));
		}
		if (attempt < ATTEMPTS) await new Promise(resolve => setTimeout(resolve, BACKOFF_MS * 2 ** (attempt - 1)));
	}
	return {...about, ok: false, attempts: ATTEMPTS, error};
}

function describeFailure(failure: unknown, timeout: number): string {
	if (failure instanceof Error && failure.name === 'TimeoutError') return `no answer within ${timeout} s`;
	// fetch's own message is "fetch failed"; its cause says what (connection refused, no such host).
	const cause = failure instanceof Error && failure.cause instanceof Error ? failure.cause.message : null;
	return cause ?? errorMessage(failure);
}

/** A header value fetch accepts (Latin-1): anything else shown as '?'. */
const headerText = (text: string) => text.replace(/[^\x20-\x7e]/g, '?');

async function sendOnce(notifier: Notifier, event: NotifyEvent): Promise<void> {
	if ('command' in notifier) return runCommand(notifier, event);
	const target = new URL('webhook' in notifier ? notifier.webhook : notifier.ntfy);
	// fetch refuses a URL with a user and password in it: they go as HTTP basic authentication.
	const headers: Record<string, string> = {'user-agent': 'snapdeck'};
	if (target.username || target.password) {
		headers['authorization'] =
			`Basic ${Buffer.from(`${decodeURIComponent(target.username)}:${decodeURIComponent(target.password)}`).toString('base64')}`;
		target.username = '';
		target.password = '';
	}
	const body = 'webhook' in notifier ? JSON.stringify(webhookBody(event)) : event.text;
	if ('webhook' in notifier) headers['content-type'] = 'application/json';
	else
		Object.assign(headers, {
			'content-type': 'text/plain; charset=utf-8',
			title: headerText(event.title),
			priority: String(ntfyPriority(event)),
			tags: event.kind,
		});
	// A redirect is not followed: the message, and its credentials, go only where the config says.
	const response = await fetch(target, {
		method: 'POST',
		headers,
		body,
		redirect: 'manual',
		signal: AbortSignal.timeout(notifier.timeout * 1000),
	});
	await response.arrayBuffer().catch(() => undefined);
	if (response.status < 200 || response.status > 299)
		throw new Error(`HTTP ${response.status}${response.statusText ? ` ${response.statusText}` : ''}`);
}

/** The command notifier: its argument list run as it is (no shell), the message on stdin. */
async function runCommand(notifier: Extract<Notifier, {command: unknown}>, event: NotifyEvent): Promise<void> {
	const {execa} = await loadExeca();
	const [program, ...args] = notifier.command;
	const result = await execa(program!, args, {
		input: mailMessage(event, notifier.to),
		reject: false,
		encoding: 'utf8',
		stdout: 'ignore',
		timeout: notifier.timeout * 1000,
		forceKillAfterDelay: 2000,
		env: {
			SNAPDECK_EVENT: event.kind,
			SNAPDECK_TITLE: event.title,
			SNAPDECK_CONNECTION: event.connection,
			SNAPDECK_VM: event.vm ?? '',
		},
	});
	if (result.timedOut) throw Object.assign(new Error('timed out'), {name: 'TimeoutError'});
	if ((result as {code?: string}).code === 'ENOENT') throw new Error(`${program} is not there (or not executable)`);
	if (result.exitCode !== 0) {
		const words = result.stderr.trim().split('\n').at(-1)?.slice(0, 300) ?? '';
		throw new Error(
			`${program} ended with ${result.exitCode === undefined ? result.signal : `exit code ${result.exitCode}`}${words ? `: ${words}` : ''}`,
		);
	}
}

const where = (connection: string, now: Date) => ({connection, host: os.hostname(), time: now.toISOString()});

/** `snapdeck notify test`: a test message to every notifier, whatever its filter. */
export const notifyTest = (notifiers: readonly Notifier[], now: Date) =>
	Promise.all(notifiers.map(notifier => deliver(notifier, testEvent(where('', now)))));

/**
 * The events to each notifier that wants them, one after another; after a delivery that failed,
 * that notifier is sent nothing more this run (the rest waits for the next), so a run is never
 * held up long by an endpoint that is down. `onDelivered` hears each event delivered.
 */
async function sendAll(
	notifier: Notifier,
	events: readonly NotifyEvent[],
	onDelivered: (index: number) => void = () => undefined,
): Promise<Delivery[]> {
	const deliveries: Delivery[] = [];
	for (const [index, event] of events.entries()) {
		const delivery = await deliver(notifier, event);
		deliveries.push(delivery);
		if (!delivery.ok) break;
		onDelivered(index);
	}
	return deliveries;
}

/** `snapdeck run`: each scheduled task that failed, to every notifier that wants it. */
export async function notifyJobFailures(
	notifiers: readonly Notifier[],
	connection: string,
	failures: ReadonlyArray<{vm: string | null; task: string; message?: string; actions: readonly string[]}>,
	now: Date,
): Promise<Delivery[]> {
	const events = failures.map(failure =>
		jobFailedEvent({...failure, message: failure.message ?? 'failed'}, where(connection, now)),
	);
	const sent = await Promise.all(
		notifiers.map(notifier =>
			sendAll(
				notifier,
				events.filter(event => notifierWants(notifier, event)),
			),
		),
	);
	return sent.flat();
}

/** The state file: what each notifier was last told of one connection, in snapdeck's data folder beside the journal. */
const StoredState = z.object({connection: z.string(), notifiers: z.record(z.string(), NotifiedState)});
type StoredState = z.infer<typeof StoredState>;

const stateFolderPath = () => `${journalFile().replace(/\.jsonl$/, '')}.notified`;
const stateFile = (connection: string) =>
	path.join(stateFolderPath(), `${createHash('sha256').update(connection).digest('hex').slice(0, 32)}.json`);
/** A notifier's key in the state: a digest of its entry (its URL holds secrets, which are not written). */
const notifierKey = (notifier: Notifier) =>
	createHash('sha256').update(JSON.stringify(notifier)).digest('hex').slice(0, 32);

async function readStored(connection: string): Promise<StoredState> {
	const text = await readStateFile(stateFile(connection)).catch(() => null);
	let parsed: StoredState | null = null;
	try {
		parsed = text === null ? null : StoredState.parse(JSON.parse(text));
	} catch {
		// A damaged state file is as none: each change is told (again).
	}
	return parsed?.connection === connection ? parsed : {connection, notifiers: {}};
}

/**
 * `snapdeck health`: each change of a connection's health (a VM worse or better, the connection
 * down or back) told once to every notifier that wants it. What each notifier was told is kept
 * per connection (written atomically); a change it was not told (its delivery failed) is tried
 * again at the next run, unless the state changed back meanwhile.
 */
export async function notifyHealth(
	notifiers: readonly Notifier[],
	connection: string,
	verdict: HealthVerdict,
	now: Date,
): Promise<Delivery[]> {
	if (notifiers.length === 0) return [];
	const stored = await readStored(connection);
	const next: StoredState = {connection, notifiers: {}};
	const sent = await Promise.all(
		notifiers.map(async notifier => {
			const key = notifierKey(notifier);
			const told = stored.notifiers[key] ?? null;
			const changes = healthChanges(told, verdict);
			let state = told ?? {up: true, vms: {}};
			const wanted = changes.filter(change => {
				const wants = notifierWants(notifier, healthEvent(change, where(connection, now)));
				if (!wants) state = applyChange(state, change);
				return wants;
			});
			const deliveries = await sendAll(
				notifier,
				wanted.map(change => healthEvent(change, where(connection, now))),
				index => {
					state = applyChange(state, wanted[index]!);
				},
			);
			next.notifiers[key] = forgetGone(state, verdict);
			return deliveries;
		}),
	);
	if (JSON.stringify(next) !== JSON.stringify(stored)) {
		await stateFolder(stateFolderPath(), "the notifications' state");
		await writeJsonAtomic(stateFile(connection), next);
	}
	return sent.flat();
}
