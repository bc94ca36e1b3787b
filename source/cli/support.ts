import {createInterface} from 'node:readline/promises';
import {SnapdeckError} from '../core/errors.js';
import {safeText} from '../core/terminal-text.js';
import type {Plan, PlanEvent} from '../core/plan.js';
import type {BackupPoint} from '../core/backup-manifest.js';
import type {ListedPoint} from '../core/offsite-claims.js';
import type {RemotePoint} from '../core/offsite-model.js';
import type {Action, Snapshots} from '../service/ports.js';
import {releaseHeldLocksSync} from '../service/session.js';
import type {CliFlags} from './flags.js';
import {renderPlan, renderProgress} from './render.js';

export const remotePointJson = (point: RemotePoint & Partial<Pick<ListedPoint, 'recorded'>>) => ({
	id: point.id,
	kind: point.kind,
	parent: point.parent,
	createdAt: point.createdAt,
	copiedAt: point.copiedAt,
	snapshot: point.snapshot,
	disks: point.disks,
	host: point.host,
	duplicate: point.duplicate,
	recorded: point.recorded ?? null,
});

/** A point as --json shows it: the documented fields, without the VM definition it carries. */
export const pointJson = (point: BackupPoint) => ({
	id: point.id,
	kind: point.kind,
	createdAt: point.createdAt,
	parent: point.parent,
	state: point.state,
	reason: point.reason,
	size: point.files.reduce((sum, file) => sum + file.size, 0),
	files: point.files.map(({disk, file, backing, size, sha256, virtualSize}) => ({
		disk,
		file,
		backing,
		size,
		sha256,
		virtualSize,
	})),
	verified: point.verified,
	compression: point.compression,
	audit: point.audit,
	archive: point.archive && point.archive.map(({name, backing, size, sha256}) => ({name, backing, size, sha256})),
});

/**
 * Text output: every line through the one sanitizer, so text from outside (a snapshot's
 * description, a folder's name, a guest's file names, a tool's words) never reaches the terminal
 * as control sequences. JSON output (printJson) is escaped by JSON itself.
 */
export const print = (text: string) => process.stdout.write(`${safeText(text, {lines: true})}\n`);
/** A line on stderr (a warning, a decision, what happens meanwhile), through the same sanitizer. */
export const note = (text: string) => process.stderr.write(`${safeText(text, {lines: true})}\n`);
export const printJson = (value: unknown) => process.stdout.write(`${JSON.stringify(value)}\n`);

export async function askToProceed(plan: Plan, flags: CliFlags): Promise<boolean> {
	if (!flags.json) print(renderPlan(plan));
	if (flags.yes) return true;
	if (!process.stdin.isTTY) {
		throw new SnapdeckError(
			'usage',
			`refusing to ${plan.action} without a confirmation, and standard input is not a terminal`,
			'pass --yes to go ahead, or --dry-run to see the plan',
		);
	}
	return askYes('Proceed? [y/N] ');
}

/**
 * Asks on the terminal: y or yes is yes, anything else no. Ctrl-C (readline reads it as a key:
 * no SIGINT comes) and Ctrl-D are a no too, as n is: the question's line ends, and the caller says
 * that nothing was changed (without this, readline's 'Aborted with Ctrl+C' went on the question's
 * line, as a failure).
 */
export async function askYes(question: string): Promise<boolean> {
	const prompt = createInterface({input: process.stdin, output: process.stderr});
	try {
		const answer = await new Promise<string | null>((resolve, reject) => {
			prompt.once('SIGINT', () => resolve(null));
			prompt.once('close', () => resolve(null));
			prompt.question(question).then(resolve, reject);
		});
		if (answer === null) process.stderr.write('\n');
		return answer !== null && /^y(es)?$/i.test(answer.trim());
	} finally {
		prompt.close();
	}
}

/**
 * Progress to the terminal: one rewritten line on a TTY, a plain line every few seconds otherwise
 * (logs, cron mail), JSON lines with --json.
 */
export function progressReporter(flags: CliFlags): (event: PlanEvent) => void {
	const tty = process.stderr.isTTY;
	let lastDraw = Date.now();
	return event => {
		if (flags.json) return printJson(event);
		if (event.type === 'step')
			process.stderr.write(
				`${tty ? '\r\x1b[K' : ''}[${event.index + 1}/${event.total}] ${safeText(event.summary)}${event.resumed ? ' (resumed)' : ''}${tty ? '' : '\n'}`,
			);
		if (event.type === 'progress' && Date.now() - lastDraw > (tty ? 200 : 5000)) {
			lastDraw = Date.now();
			process.stderr.write(tty ? `\r\x1b[K  ${renderProgress(event)}` : `  ${renderProgress(event)}\n`);
		}
		if (event.type === 'done' && tty) process.stderr.write('\n');
	};
}

export async function perform(service: Snapshots, action: Action, flags: CliFlags, command: string): Promise<number> {
	return cancellable(async signal => {
		const {plan, outcome} = await service.perform(action, {
			command,
			dryRun: flags['dry-run'],
			signal,
			onEvent: progressReporter(flags),
			confirm: planned => askToProceed(planned, flags),
		});
		if (flags.json) printJson({type: 'result', outcome, plan});
		else if (outcome === 'dry-run') print(`${renderPlan(plan)}\n(dry run: nothing was changed)`);
		else print(outcome === 'done' ? `done: ${plan.summary}` : 'cancelled: nothing was changed');
		return 0;
	});
}

export function parseNow(text: string | undefined): Date {
	const now = text === undefined ? new Date() : new Date(text);
	if (Number.isNaN(now.getTime()))
		throw new SnapdeckError('usage', `--now takes an ISO time such as 2026-11-25T12:00:00Z, got '${text}'`);
	return now;
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
export function cancellable<T>(run: (signal: AbortSignal) => Promise<T>): Promise<T> {
	const controller = new AbortController();
	let timer: NodeJS.Timeout | undefined;
	const force = (name: string) => {
		releaseHeldLocksSync();
		process.stderr.write(
			`snapdeck: ${name}: stopped without waiting for the job to reach a safe point; 'snapdeck recover VM' finishes what it left\n`,
		);
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

export {
	canonicalUri,
	connectionUri,
	connectionUris,
	configPolicies,
	defaultDemoDir,
	journalConnection,
	journalRecords,
	offsiteSchedule,
	openSession,
	openSessionOn,
	openSessions,
	policiesFor,
	policyRepository,
	readSettings,
	receiptCheck,
	repositoryDir,
	repositoryNamed,
	runSchedules,
	scheduledTasks,
	settingsModule,
	targetOf,
	tellHealthChanges,
	tellJobFailures,
	testNotifiers,
	uiServices,
	validateConfigFile,
	writeReport,
} from '../service/session.js';
