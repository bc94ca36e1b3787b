import {maskCredentials} from '../../core/notifications.js';
import {SnapdeckError} from '../../core/errors.js';
import {renderPlan} from '../render.js';
import {
	askToProceed,
	askYes,
	cancellable,
	print,
	printJson,
	progressReporter,
	remotePointJson,
	targetOf,
	note,
} from '../support.js';
import {defineCommand, type CommandFlags} from '../command.js';
import type {FlagTable} from '../flags.js';
import type {Backups, Offsite} from '../../service/ports.js';
import {RETENTION_RULES, type Retention} from '../../core/retention.js';

const OWN_FLAGS = {
	'keep-last': {type: 'string', value: 'N', whole: [1, Number.MAX_SAFE_INTEGER], help: 'keep the newest N points'},
	'keep-hourly': {
		type: 'string',
		value: 'N',
		whole: [1, Number.MAX_SAFE_INTEGER],
		help: 'keep the newest point of each of the last N hours',
	},
	'keep-daily': {
		type: 'string',
		value: 'N',
		whole: [1, Number.MAX_SAFE_INTEGER],
		help: 'keep the newest point of each of the last N days',
	},
	'keep-weekly': {
		type: 'string',
		value: 'N',
		whole: [1, Number.MAX_SAFE_INTEGER],
		help: 'keep the newest point of each of the last N weeks',
	},
	'keep-monthly': {
		type: 'string',
		value: 'N',
		whole: [1, Number.MAX_SAFE_INTEGER],
		help: 'keep the newest point of each of the last N months',
	},
	'keep-yearly': {
		type: 'string',
		value: 'N',
		whole: [1, Number.MAX_SAFE_INTEGER],
		help: 'keep the newest point of each of the last N years',
	},
} as const satisfies FlagTable;
/** The flags its run and its helpers read: the shared ones and its own. */
type Flags = CommandFlags<typeof OWN_FLAGS>;

export default defineCommand({
	name: 'prune',
	order: 160,
	summary: 'remove points by retention, here or off-site',
	description:
		"Proxmox Backup Server's rules; without --keep-..., the VM's policy's. With --from TARGET, the VM's copies there (restic forget and prune; without --keep-..., the target's \"retention\").",
	args: [{key: 'vm', kind: 'vm', help: 'the VM'}],
	globals: ['yes', 'dry-run'],
	examples: [
		{
			line: 'snapdeck prune web1 --keep-last 7 --keep-weekly 4 --dry-run',
			does: 'which points those rules keep and remove, nothing changed',
		},
	],
	flags: ['from', 'keep-last', 'keep-hourly', 'keep-daily', 'keep-weekly', 'keep-monthly', 'keep-yearly'],
	ownFlags: OWN_FLAGS,
	uses: ['backups', 'offsite'],
	backups: true,
	async run({args, flags, commandLine, service}) {
		const {vm} = args;
		const svc = await service();
		if (flags.from !== undefined) return pruneOffsite(svc, vm, flags.from, flags, commandLine);
		return pruneHere(svc, vm, flags, commandLine);
	},
});

/** With --from TARGET: forgets the VM's copies there that the rules (or the target's "retention") do not keep. */
async function pruneOffsite(
	svc: Offsite,
	vm: string,
	from: string,
	flags: Flags,
	commandLine: string,
): Promise<number> {
	const {target, retention: configured} = await targetOf(from);
	const retention = retentionOf(flags) ?? (configured && Object.keys(configured).length > 0 ? configured : null);
	if (!retention)
		throw new SnapdeckError(
			'usage',
			`prune --from needs --keep-... rules, and the target sets no "retention" to use instead`,
			'for example --keep-last 7 --keep-weekly 4, or "retention" under the target in "offsite" of the config',
		);
	const plan = await cancellable(signal => svc.planPruneFrom(target, vm, retention, signal));
	const lines = [
		`prune ${vm} on ${plan.target}: keep ${plan.keep.length}, forget ${plan.remove.length}`,
		...plan.remove.map(point => `  forget ${point.id} (${point.kind}, snapshot ${point.snapshot.slice(0, 8)})`),
		...plan.keep.map(point => `  keep   ${point.id} (${point.kind})`),
		...plan.others.map(
			point =>
				`  leave  ${point.id} (snapshot ${point.snapshot.slice(0, 8)}, copied by ${point.host ?? 'an unnamed host'}: not a copy this host made)`,
		),
	];
	const outcome =
		plan.remove.length === 0
			? 'nothing'
			: flags['dry-run']
				? 'dry-run'
				: await confirmAndForget(lines, flags, () =>
						cancellable(signal => svc.pruneFrom(target, vm, plan, {signal, command: commandLine})),
					);
	if (flags.json)
		printJson({
			type: 'result',
			outcome,
			target: target.name ?? maskCredentials(target.repository),
			keep: plan.keep.map(remotePointJson),
			remove: plan.remove.map(remotePointJson),
			others: plan.others.map(remotePointJson),
		});
	else if (outcome === 'nothing') print(`nothing to prune on ${plan.target}: all ${plan.keep.length} points are kept`);
	else if (outcome === 'dry-run') print(`${lines.join('\n')}\n(dry run: nothing was changed)`);
	else
		print(
			outcome === 'done'
				? `done: forgot ${plan.remove.length} point${plan.remove.length === 1 ? '' : 's'} on ${plan.target} and pruned their data`
				: 'declined: nothing was changed',
		);
	return 0;
}

/** Shows the off-site plan and asks (unless --yes), then forgets. */
async function confirmAndForget(
	lines: readonly string[],
	flags: Flags,
	forget: () => Promise<void>,
): Promise<'declined' | 'done'> {
	if (!flags.json) print(lines.join('\n'));
	if (!flags.yes) {
		if (!process.stdin.isTTY)
			throw new SnapdeckError(
				'usage',
				'refusing to forget off-site copies without a confirmation, and standard input is not a terminal',
				'pass --yes to go ahead, or --dry-run to see the plan',
			);
		if (!(await askYes('Proceed? [y/N] '))) return 'declined';
	}
	await forget();
	return 'done';
}

/** The VM's points in its repository, by the rules given or its policy's retention. */
async function pruneHere(svc: Backups, vm: string, flags: Flags, commandLine: string): Promise<number> {
	// No --keep-... rule: the VM's policy's retention, as `snapdeck run` prunes by.
	let retention = retentionOf(flags);
	if (retention === null) {
		const policy = await svc.retentionOf(vm);
		if (!policy.retention)
			throw new SnapdeckError(
				'usage',
				`prune needs --keep-... rules, and ${vm}'s policy ('${policy.policy}') sets no backups.retention to use instead`,
				'for example --keep-last 7 --keep-weekly 4, or set "backups": {"retention": {...}} in the policy',
			);
		retention = policy.retention;
	}
	const result = await cancellable(signal =>
		svc.prune(vm, {
			retention,
			dryRun: flags['dry-run'],
			command: commandLine,
			signal,
			onEvent: progressReporter(flags),
			confirm: plan => askToProceed(plan, flags),
			onWarning: text => note(`snapdeck: warning: ${text}`),
		}),
	);
	if (flags.json)
		printJson({type: 'result', outcome: result.outcome, keep: result.keep, remove: result.remove, plan: result.plan});
	else if (result.outcome === 'resumed') print(`finished the interrupted prune: ${result.plan.summary}`);
	else if (result.remove.length === 0) print(`nothing to prune: all ${result.keep.length} points are kept`);
	else if (result.outcome === 'dry-run') print(`${renderPlan(result.plan)}\n(dry run: nothing was changed)`);
	else print(result.outcome === 'done' ? `done: ${result.plan.summary}` : 'cancelled: nothing was changed');
	return 0;
}

/** The --keep-... rules given, or null when none is. */
function retentionOf(flags: Flags): Retention | null {
	const retention: Record<string, number> = {};
	for (const rule of RETENTION_RULES) {
		const value = flags[`keep-${rule}` as const];
		if (value === undefined) continue;
		// A whole number of 1 or more: the runner checked it (OWN_FLAGS).
		retention[rule] = Number(value);
	}
	return Object.keys(retention).length === 0 ? null : retention;
}
