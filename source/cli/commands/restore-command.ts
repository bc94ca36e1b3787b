import {maskCredentials} from '../../core/notifications.js';
import {SnapdeckError} from '../../core/errors.js';
import type {Plan} from '../../core/plan.js';
import {renderPlan} from '../render.js';
import {askToProceed, cancellable, print, printJson, progressReporter, targetOf, note} from '../support.js';
import {defineCommand, type CommandFlags} from '../command.js';
import type {FlagTable} from '../flags.js';
import type {Backups, Offsite, Restores} from '../../service/ports.js';

const OWN_FLAGS = {
	instant: {type: 'boolean', help: 'a new VM that runs at once from the point while its data streams in'},
	snapshot: {
		type: 'string',
		value: 'ID',
		help: 'restore --from: the restic snapshot to restore the point from (its id, 8 or more of its first digits), where more than one claims the point',
	},
	as: {type: 'string', value: 'NAME', help: "the new VM's name"},
	'in-place': {type: 'boolean', help: "over the stopped VM's own disks, after a safety snapshot (asks first)"},
} as const satisfies FlagTable;
/** The flags its run and its helpers read: the shared ones and its own. */
type Flags = CommandFlags<typeof OWN_FLAGS>;

export default defineCommand({
	name: 'restore',
	order: 140,
	summary: 'restore a point: new images, a new VM, or in place',
	description:
		"To new images (--to), as a new VM (--as), or over the stopped VM itself after a safety snapshot (--in-place, asks first); a point that failed its last verify needs --force. --from restores from an off-site target, no local repository needed: this host's copy of the point, or the one --snapshot names where several claim it. --instant --as NAME: a new VM that runs at once from the point, its data streamed in meanwhile (--limit caps the stream; 'snapdeck recover NAME' finishes one).",
	args: [{key: 'vm', kind: 'vm', help: 'the VM'}],
	required: ['point'],
	choices: [['to', 'as', 'in-place']],
	flagHelp: {
		to: 'the new image (a folder for several disks)',
		limit: 'with --instant: MiB/s the data streams in at most',
		force: 'restore a point that failed its last verification',
		origin:
			"a point of another VM of the same name (another host's, another lab's): its host name or the tag of its folder, as 'snapdeck backups VM' shows them; restored only as a new VM (--as, --to)",
	},
	globals: ['yes', 'dry-run'],
	examples: [
		{
			line: 'snapdeck restore web1 --point 20261125T020000Z --to /srv/restored',
			does: "the point's disks as new images in /srv/restored",
		},
		{
			line: 'snapdeck restore web1 --point 20261125T020000Z --instant --as web1-test',
			does: 'a new VM web1-test, running at once from the repository',
		},
	],
	flags: ['point', 'limit', 'instant', 'from', 'snapshot', 'to', 'as', 'in-place', 'force', 'origin'],
	ownFlags: OWN_FLAGS,
	uses: ['restores', 'offsite', 'backups'],
	backups: true,
	async run({args, flags, commandLine, service}) {
		const {vm} = args;
		// Required (the spec's 'required'): the runner refused the command line without it.
		const point = flags.point!;
		if (flags.snapshot !== undefined && flags.from === undefined)
			throw new SnapdeckError('usage', '--snapshot names a snapshot on an off-site target: it needs --from TARGET');
		if (flags.snapshot !== undefined && !/^[0-9a-f]{8,64}$/.test(flags.snapshot))
			throw new SnapdeckError(
				'usage',
				`--snapshot ${flags.snapshot}: give a restic snapshot id, 8 to 64 of its hex digits`,
				`'snapdeck backups ${vm} --from ${flags.from}' lists them`,
			);
		checkDestination(vm, point, flags);
		const svc = await service();
		const request: Request = {vm, point, flags, commandLine};
		if (flags['in-place']) return restoreOverVm(svc, request);
		if (flags.instant) checkInstantFlags(request);
		if (flags['dry-run']) return restoreDryRun(svc, request);
		if (flags.instant) return restoreInstantly(svc, request);
		return restoreAsNew(svc, request);
	},
});

/** What every kind of restore is given: the VM, the point, the flags and the command line as typed. */
interface Request {
	readonly vm: string;
	readonly point: string;
	readonly flags: Flags;
	readonly commandLine: string;
}

/** One place to restore to, said with all three ways (--instant says its own: it needs --as). */
function checkDestination(vm: string, point: string, flags: Flags): void {
	if (flags['in-place'] || flags.instant || (flags.to === undefined) !== (flags.as === undefined)) return;
	throw new SnapdeckError(
		'usage',
		'restore needs one of --to PATH, --as NAME or --in-place',
		`new images: 'snapdeck restore ${vm} --point ${point} --to PATH'; a new VM: --as NAME; over ${vm} itself: --in-place`,
	);
}

/** --in-place: over the stopped VM itself, after a safety snapshot, once confirmed. */
async function restoreOverVm(svc: Restores, {vm, point, flags, commandLine}: Request): Promise<number> {
	if (flags.to !== undefined || flags.as !== undefined)
		throw new SnapdeckError('usage', '--in-place excludes --to and --as');
	if (flags.from !== undefined)
		throw new SnapdeckError(
			'usage',
			'--in-place restores from the local repository only',
			`restore it with --from ${flags.from} --to PATH (or --as NAME) instead`,
		);
	// --dry-run: the plan is shown, then declined, so nothing changes.
	const confirm = async (plan: Plan) => (flags['dry-run'] ? false : askToProceed(plan, flags));
	const result = await cancellable(signal =>
		svc.restoreInPlace(vm, {
			point: point,
			origin: flags.origin,
			force: flags.force,
			command: commandLine,
			signal,
			onEvent: progressReporter(flags),
			confirm,
		}),
	);
	const outcome = flags['dry-run'] ? 'dry-run' : result.outcome;
	if (flags.json) printJson({type: 'result', outcome, point: point, snapshot: result.snapshot, plan: result.plan});
	else if (outcome === 'dry-run') print(`${renderPlan(result.plan)}\n(dry run: nothing was changed)`);
	else
		print(
			result.outcome === 'done'
				? `restored point ${point} over ${vm}; the state before is snapshot '${result.snapshot}' (revert to it to undo)`
				: 'cancelled: nothing was changed',
		);
	return 0;
}

/** --instant needs --as NAME and the local repository. */
function checkInstantFlags({vm, point, flags}: Request): void {
	if (flags.as === undefined || flags.to !== undefined || flags.from !== undefined)
		throw new SnapdeckError(
			'usage',
			'--instant needs --as NAME (the new VM), from the local repository',
			`snapdeck restore ${vm} --point ${point} --instant --as NAME`,
		);
}

/**
 * --dry-run of a restore that makes something new (--to, --as, --instant): the point is looked up
 * where the restore would read it, and what would be made is said; nothing is written or started.
 */
async function restoreDryRun(svc: Restores & Offsite & Backups, {vm, point, flags}: Request): Promise<number> {
	const from = flags.from === undefined ? null : (await targetOf(flags.from)).target;
	const points = from ? await svc.remoteBackups(from, vm) : await svc.backups(vm, {origin: flags.origin});
	const found = points.find(candidate => candidate.id === point);
	if (!found)
		throw new SnapdeckError(
			'not-found',
			`${vm} has no backup point '${point}'${from ? ` on ${flags.from}` : ''}`,
			`'snapdeck backups ${vm}${from ? ` --from ${flags.from}` : ''}' lists them`,
		);
	const disks = 'disks' in found ? found.disks : found.files.map(file => file.disk);
	const made = flags.instant
		? `a new VM ${flags.as}, started at once while its data streams in`
		: flags.as !== undefined
			? `a new VM ${flags.as}`
			: `new images in ${flags.to}`;
	if (flags.json)
		printJson({type: 'result', outcome: 'dry-run', point, disks, vm: flags.as ?? null, to: flags.to ?? null});
	else print(`would restore point ${point} of ${vm} (${disks.join(', ')}) as ${made}\n(dry run: nothing was changed)`);
	return 0;
}

/** --instant --as NAME: a new VM that runs at once from the point while its data streams in. */
async function restoreInstantly(svc: Restores, {vm, point, flags, commandLine}: Request): Promise<number> {
	// QEMU takes its stream speed in whole bytes per second: a whole number of MiB/s (FLAGS.limit), as backup takes it.
	const limit = flags.limit === undefined ? undefined : Number(flags.limit);
	const done = await cancellable(signal =>
		svc.restoreInstant(vm, {
			point: point,
			origin: flags.origin,
			as: flags.as!,
			command: commandLine,
			signal,
			onEvent: progressReporter(flags),
			...(limit === undefined ? {} : {bytesPerSecond: limit * 1024 * 1024}),
			onStarted: name => note(`${name} is running (from the repository, while its data streams in)`),
		}),
	);
	if (flags.json)
		printJson({
			type: 'result',
			outcome: 'done',
			point: done.point,
			vm: done.vm,
			startedAfterMs: Math.round(done.startedAfterMs),
		});
	else
		print(
			`restored point ${done.point} of ${vm} as VM ${done.vm}: running ${(done.startedAfterMs / 1000).toFixed(1)} s after the command began; its disks no longer read the repository`,
		);
	return 0;
}

/** --to or --as: new images, or a new VM, from the local repository or (--from) an off-site target. */
async function restoreAsNew(svc: Restores & Offsite, {vm, point, flags, commandLine}: Request): Promise<number> {
	const options = {
		point: point,
		origin: flags.origin,
		to: flags.to,
		as: flags.as,
		force: flags.force,
		command: commandLine,
		onEvent: progressReporter(flags),
	};
	const from = flags.from === undefined ? null : (await targetOf(flags.from)).target;
	const onWarning = (text: string) => note(`snapdeck: warning: ${text}`);
	const {restored, snapshot} = await cancellable(async signal =>
		from
			? svc.restoreFrom(from, vm, {...options, snapshot: flags.snapshot, onWarning, signal})
			: {restored: await svc.restore(vm, {...options, signal}), snapshot: null},
	);
	if (flags.json)
		printJson({
			type: 'result',
			outcome: 'done',
			point: point,
			restored,
			vm: flags.as ?? null,
			...(from ? {snapshot} : {}),
		});
	else
		print(
			`restored point ${point} of ${vm}${from ? ` from ${from.name ?? maskCredentials(from.repository)} (snapshot ${snapshot!.slice(0, 8)})` : ''}${flags.as ? ` as VM ${flags.as}` : ''}: ${Object.entries(
				restored,
			)
				.map(([disk, file]) => `${disk} -> ${file}`)
				.join(', ')}`,
		);
	return 0;
}
