import {z} from 'zod';
import type {Finding, Severity} from './health.js';
// Also imported from here; its module of its own, without zod, is what core/health.ts (the UI's first frame) loads.
export {maskCredentials} from './credentials.js';

/*
 * Notifications: who is told (the config's "notify" list), of what (a failed scheduled job, a VM
 * whose health got worse or recovered), and in which words. Pure: sending is the service's.
 */

/** What can be notified; a notifier's "events" picks among them ("test" always goes through). */
export const NOTIFY_EVENTS = ['job-failed', 'health-worse', 'health-recovered'] as const;
export type NotifyEventKind = (typeof NOTIFY_EVENTS)[number] | 'test';

const HttpUrl = z.string().refine(
	text => {
		try {
			const url = new URL(text);
			return url.protocol === 'http:' || url.protocol === 'https:';
		} catch {
			return false;
		}
	},
	{message: 'must be an http:// or https:// URL'},
);

/** An e-mail address for a command notifier's To: header; one line, no header of its own. */
const MailAddress = z
	.string()
	.regex(/^[^\s<>@,;:"]+@[^\s<>@,;:"]+$/, {message: 'must be one e-mail address, such as ops@example.org'});

const common = {
	/** Which events this notifier is told of; default: all of them. */
	events: z.array(z.enum(NOTIFY_EVENTS)).min(1).optional(),
	/** Which VMs (patterns: `*`, `?`); default: all. Events about a whole connection always pass. */
	vms: z.array(z.string().min(1)).min(1).optional(),
	/** Seconds one delivery attempt may take (three attempts at most). */
	timeout: z.number().int().min(1).max(120).default(10),
};

/** One entry of the config's "notify": a JSON webhook, an ntfy topic, or a program given the message on stdin. */
export const Notifier = z.union([
	z.strictObject({
		/** A URL that gets a JSON POST per event. */
		webhook: HttpUrl,
		...common,
	}),
	z.strictObject({
		/** An ntfy topic URL (https://ntfy.sh/TOPIC or your own server's): a plain-text POST with Title and Priority. */
		ntfy: HttpUrl,
		...common,
	}),
	z.strictObject({
		/** A program and its arguments, run without a shell, the message (a mail: headers, a blank line, the text) on stdin. */
		command: z.array(z.string().min(1)).min(1),
		/** Addresses for the message's To: header (for "sendmail -t"). */
		to: z.array(MailAddress).min(1).optional(),
		...common,
	}),
]);
export type Notifier = z.infer<typeof Notifier>;

/** One thing to tell: its kind, where, and its words (title: one line; text: the body). */
export interface NotifyEvent {
	readonly kind: NotifyEventKind;
	readonly connection: string;
	/** The VM it is about; null for the whole connection. */
	readonly vm: string | null;
	readonly host: string;
	readonly time: string;
	/** How urgent: critical (a failure, a VM critical, a connection down), warning, or info (a recovery, a test). */
	readonly urgency: 'critical' | 'warning' | 'info';
	readonly title: string;
	readonly text: string;
	/** Health events: the state before and now ("unknown": the connection could not be inspected). */
	readonly previous?: HealthState;
	readonly status?: HealthState;
	readonly findings?: readonly Finding[];
	/** Job events: which scheduled task, and why it failed. */
	readonly task?: string;
	readonly message?: string;
}

export type HealthState = Severity | 'unknown';
const RANK: Record<HealthState, number> = {ok: 0, warning: 1, critical: 2, unknown: 3};

const globToRegExp = (pattern: string) =>
	new RegExp(
		`^${pattern
			.replace(/[.+^${}()|[\]\\]/g, '\\$&')
			.replaceAll('*', '.*')
			.replaceAll('?', '.')}$`,
	);

/** Whether a notifier is told of an event: a test always; otherwise its "events" and "vms", where given. */
export function notifierWants(notifier: Notifier, event: Pick<NotifyEvent, 'kind' | 'vm'>): boolean {
	if (event.kind === 'test') return true;
	if (notifier.events && !notifier.events.includes(event.kind)) return false;
	return event.vm === null || !notifier.vms || notifier.vms.some(pattern => globToRegExp(pattern).test(event.vm!));
}

/**
 * A URL as it may be shown or logged: its user and password, and every query value, replaced by
 * ***. A query word with no value (`?SECRET`, the form some webhooks take a key in) is a value
 * itself: it is replaced whole.
 */
export function maskUrl(text: string): string {
	let url: URL;
	try {
		url = new URL(text);
	} catch {
		return '***';
	}
	const auth = url.username || url.password ? '***@' : '';
	const query = [...url.searchParams.entries()]
		.map(([key, value]) => (value === '' ? '***' : `${encodeURIComponent(key)}=***`))
		.join('&');
	return `${url.protocol}//${auth}${url.host}${url.pathname}${query ? `?${query}` : ''}`;
}

/** A notifier as output names it, with no secret: the masked URL, or the program alone. */
export const notifierLabel = (notifier: Notifier): string =>
	'webhook' in notifier
		? `webhook ${maskUrl(notifier.webhook)}`
		: 'ntfy' in notifier
			? `ntfy ${maskUrl(notifier.ntfy)}`
			: `command ${notifier.command[0]}`;

/** A notifier as `config show` prints it: its URL masked. */
export const maskedNotifier = (notifier: Notifier): Notifier =>
	'webhook' in notifier
		? {...notifier, webhook: maskUrl(notifier.webhook)}
		: 'ntfy' in notifier
			? {...notifier, ntfy: maskUrl(notifier.ntfy)}
			: notifier;

/** Text with every secret of a notifier's URL masked (an error message may quote the URL). */
export function maskSecrets(notifier: Notifier, text: string): string {
	const url = 'webhook' in notifier ? notifier.webhook : 'ntfy' in notifier ? notifier.ntfy : null;
	if (url === null) return text;
	let masked = text.replaceAll(url, maskUrl(url));
	try {
		const parsed = new URL(url);
		const secrets = [
			parsed.username,
			parsed.password,
			decodeURIComponent(parsed.username),
			decodeURIComponent(parsed.password),
			...[...parsed.searchParams.entries()].map(([key, value]) => (value === '' ? key : value)),
		].filter(secret => secret.length >= 3);
		for (const secret of secrets) masked = masked.replaceAll(secret, '***');
	} catch {
		// Not a URL: nothing more to find.
	}
	return masked;
}

/** What a notifier was last told of one connection: whether it could be inspected, and each VM's health. */
export interface NotifiedState {
	readonly up: boolean;
	readonly vms: Readonly<Record<string, Severity>>;
}

export const NotifiedState = z.object({
	up: z.boolean(),
	vms: z.record(z.string(), z.enum(['ok', 'warning', 'critical'])),
});

/** A health run's verdict on one connection: each VM's health and findings, or why it could not be inspected. */
export type HealthVerdict =
	| {
			readonly up: true;
			readonly vms: ReadonlyArray<{
				readonly vm: string;
				readonly status: Severity;
				readonly findings: readonly Finding[];
			}>;
			readonly complete: boolean;
	  }
	| {readonly up: false; readonly error: string};

/** One change since what was last told, and what the state is once it has been told. */
export interface HealthChange {
	readonly vm: string | null;
	readonly previous: HealthState;
	readonly status: HealthState;
	readonly findings: readonly Finding[];
	readonly error?: string;
}

/** What changed between what was told (`told`, null: nothing yet, all taken as well) and the verdict. */
export function healthChanges(told: NotifiedState | null, verdict: HealthVerdict): HealthChange[] {
	const before = told ?? {up: true, vms: {}};
	if (!verdict.up)
		return before.up ? [{vm: null, previous: 'ok', status: 'unknown', findings: [], error: verdict.error}] : [];
	const changes: HealthChange[] = before.up ? [] : [{vm: null, previous: 'unknown', status: 'ok', findings: []}];
	for (const {vm, status, findings} of verdict.vms) {
		const previous = before.vms[vm] ?? 'ok';
		if (previous !== status) changes.push({vm, previous, status, findings});
	}
	return changes;
}

/** The state once `change` has been told (or was of no interest to the notifier). */
export function applyChange(state: NotifiedState, change: HealthChange): NotifiedState {
	if (change.vm === null) return {...state, up: change.status !== 'unknown'};
	return {...state, vms: {...state.vms, [change.vm]: change.status as Severity}};
}

/** The state with the VMs a complete verdict no longer lists forgotten (a VM removed, or renamed). */
export function forgetGone(state: NotifiedState, verdict: HealthVerdict): NotifiedState {
	if (!verdict.up || !verdict.complete) return state;
	const present = new Set(verdict.vms.map(({vm}) => vm));
	return {...state, vms: Object.fromEntries(Object.entries(state.vms).filter(([vm]) => present.has(vm)))};
}

const oneLine = (text: string) => text.replace(/[\u0000-\u001f\u007f-\u009f]+/g, ' ').trim();

/** The event that tells a health change. */
export function healthEvent(
	change: HealthChange,
	where: {connection: string; host: string; time: string},
): NotifyEvent {
	const worse = RANK[change.status] > RANK[change.previous];
	const kind = worse ? 'health-worse' : 'health-recovered';
	const base = {
		kind,
		...where,
		vm: change.vm,
		previous: change.previous,
		status: change.status,
		findings: change.findings,
	} as const;
	if (change.vm === null) {
		return change.status === 'unknown'
			? {
					...base,
					urgency: 'critical',
					title: oneLine(`snapdeck cannot inspect ${where.connection} on ${where.host}`),
					text: `snapdeck health on ${where.host} could not inspect ${where.connection} at ${where.time}: ${change.error ?? 'unknown error'}\n\nNothing is known of its VMs until it can again.`,
				}
			: {
					...base,
					urgency: 'info',
					title: oneLine(`snapdeck can inspect ${where.connection} on ${where.host} again`),
					text: `snapdeck health on ${where.host} could inspect ${where.connection} again at ${where.time}.`,
				};
	}
	const lines = change.findings.map(finding => `- ${finding.severity}: ${finding.rule}: ${finding.message}`);
	return {
		...base,
		urgency: !worse ? 'info' : change.status === 'critical' ? 'critical' : 'warning',
		title: oneLine(`${change.vm} is ${change.status} (was ${change.previous}) on ${where.host}`),
		text: [
			`${change.vm} on ${where.connection} (${where.host}) is ${change.status} at ${where.time}, and was ${change.previous}.`,
			...(lines.length > 0 ? ['', ...lines] : []),
			'',
			`'snapdeck health ${change.vm}' shows it, with what to do.`,
		].join('\n'),
	};
}

/** The event that tells a scheduled task that failed; `vm` null: `snapdeck run` itself failed (its connection, its config). */
export function jobFailedEvent(
	failure: {vm: string | null; task: string; message: string; actions: readonly string[]},
	where: {connection: string; host: string; time: string},
): NotifyEvent {
	const what =
		failure.vm === null
			? `snapdeck run on ${where.connection}`
			: `The scheduled ${failure.task} task of ${failure.vm} on ${where.connection}`;
	return {
		kind: 'job-failed',
		...where,
		vm: failure.vm,
		urgency: 'critical',
		task: failure.task,
		message: failure.message,
		title: oneLine(
			failure.vm === null
				? `snapdeck: run failed on ${where.host}`
				: `snapdeck: ${failure.task} of ${failure.vm} failed on ${where.host}`,
		),
		text: [
			`${what} (${where.host}) failed at ${where.time}:`,
			failure.message,
			...(failure.actions.length > 0
				? ['', 'Done before it failed:', ...failure.actions.map(action => `- ${action}`)]
				: []),
			'',
			`'snapdeck log${failure.vm === null ? '' : ` ${failure.vm}`}' has the details.`,
		].join('\n'),
	};
}

/** The event `snapdeck notify test` sends. */
export const testEvent = (where: {connection: string; host: string; time: string}): NotifyEvent => ({
	kind: 'test',
	...where,
	vm: null,
	urgency: 'info',
	title: oneLine(`snapdeck on ${where.host}: a test message`),
	text: `A test message from 'snapdeck notify test' on ${where.host} at ${where.time}: this notifier works.`,
});

/** ntfy's priority (1 min, 3 default, 5 max) for an event: high for what needs someone, low for a recovery. */
export const ntfyPriority = (event: NotifyEvent): number =>
	event.urgency === 'critical' ? 4 : event.urgency === 'warning' || event.kind === 'test' ? 3 : 2;

/** The message a command notifier reads on stdin: a mail (To: where given, Subject:, a blank line, the text). */
export function mailMessage(event: NotifyEvent, to: readonly string[] | undefined): string {
	const headers = [
		...(to ? [`To: ${to.join(', ')}`] : []),
		`Subject: ${event.title}`,
		'Content-Type: text/plain; charset=utf-8',
		`X-Snapdeck-Event: ${event.kind}`,
	];
	return `${headers.join('\n')}\n\n${event.text}\n`;
}

/** What a webhook receives: the event as JSON. */
export const webhookBody = (event: NotifyEvent) => ({
	event: event.kind,
	connection: event.connection,
	vm: event.vm,
	host: event.host,
	time: event.time,
	urgency: event.urgency,
	title: event.title,
	text: event.text,
	...(event.status === undefined
		? {}
		: {status: event.status, previous: event.previous ?? null, findings: event.findings ?? []}),
	...(event.task === undefined ? {} : {task: event.task, message: event.message ?? ''}),
});
