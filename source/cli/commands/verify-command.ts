import {maskCredentials} from '../../core/notifications.js';
import {cancellable, print, printJson, progressReporter, remotePointJson, targetOf, note} from '../support.js';
import {defineCommand} from '../command.js';

export default defineCommand({
	name: 'verify',
	order: 120,
	summary: "check backup points, or an off-site target's copies",
	description:
		"Points are checked against their checksums and qemu-img check; --restore-test restores each too; --boot starts the newest (or --point) in a throwaway VM until it is up (--timeout S). With --from TARGET: restic's check of an off-site target, its structure and 10% of its data (all of it with --read-data).",
	args: [{key: 'vm', kind: 'vm', help: 'the VM'}],
	examples: [
		{line: 'snapdeck verify web1 --restore-test', does: 'every point of web1 checked, and each restored and checked'},
		{
			line: 'snapdeck verify web1 --boot --timeout 300',
			does: 'the newest point also booted in a throwaway VM, up to 5 minutes',
		},
		{line: 'snapdeck verify web1 --from usb --read-data', does: 'restic reads all of the target usb back'},
	],
	flags: ['point', 'restore-test', 'boot', 'timeout', 'from', 'read-data', 'origin'],
	ownFlags: {
		'restore-test': {type: 'boolean', help: 'also restore each point and check the restored image'},
		boot: {
			type: 'boolean',
			help: 'also boot the point (the newest, or --point) in a throwaway VM until the guest proves it is up',
		},
		timeout: {
			type: 'string',
			value: 'S',
			whole: [5, 3600],
			help: "how long a boot test waits for the guest, 5 to 3600 seconds (default: the policy's, else 90)",
		},
		'read-data': {type: 'boolean', help: "read all of the target's data back, not 10% of it"},
	},
	flagHelp: {
		origin:
			"check the points of another VM of the same name (another host's, another lab's) instead, in their own folder: its host name or the tag of that folder, as 'snapdeck backups VM' shows them",
	},
	uses: ['backups', 'offsite'],
	backups: true,
	async run({args, flags, commandLine, service}) {
		const {vm} = args;
		if (flags.from !== undefined) {
			const {target} = await targetOf(flags.from);
			const svc = await service();
			const verdict = await cancellable(signal =>
				svc.verifyFrom(target, vm, {readData: flags['read-data'] ? 'all' : undefined, signal, command: commandLine}),
			);
			if (flags.json)
				printJson({
					vm,
					target: target.name ?? maskCredentials(target.repository),
					ok: verdict.ok,
					readData: verdict.readData,
					problems: verdict.problems,
					points: verdict.points.map(remotePointJson),
				});
			else
				print(
					verdict.ok
						? `ok      ${target.name ?? maskCredentials(target.repository)}: ${verdict.points.length} point${verdict.points.length === 1 ? '' : 's'} of ${vm}, structure and ${verdict.readData === 'all' ? 'all' : verdict.readData} of the data read back`
						: `FAILED  ${target.name ?? maskCredentials(target.repository)}: ${verdict.problems.join('; ')}`,
				);
			return verdict.ok ? 0 : 1;
		}
		const svc = await service();
		// Progress on the terminal; --json stays the one verdict object it always was.
		const verdicts = await cancellable(signal =>
			svc.verify(vm, {
				point: flags.point,
				origin: flags.origin,
				restoreTest: flags['restore-test'],
				command: commandLine,
				signal,
				onWarning: text => note(`snapdeck: warning: ${text}`),
				...(flags.json ? {} : {onEvent: progressReporter(flags)}),
			}),
		);
		// --boot: the point (the newest, unless named) also boots, once its files verify.
		const newest = verdicts.at(-1);
		const bootable = flags.boot && newest?.ok === true;
		if (flags.boot && !bootable)
			note(`snapdeck: not booted: ${newest ? `point ${newest.id} failed verification` : 'no point'}`);
		const timeout = flags.timeout === undefined ? undefined : Number(flags.timeout);
		const boot = bootable
			? await cancellable(signal =>
					svc.bootTest(vm, {
						point: flags.point ?? newest.id,
						origin: flags.origin,
						command: commandLine,
						signal,
						onWarning: text => note(`snapdeck: warning: ${text}`),
						...(timeout === undefined ? {} : {timeoutMs: timeout * 1000}),
						...(flags.json ? {} : {onEvent: progressReporter(flags)}),
					}),
				)
			: null;
		if (flags.json) printJson({vm, points: verdicts, ...(flags.boot ? {boot} : {})});
		else {
			for (const verdict of verdicts)
				print(verdict.ok ? `ok      ${verdict.id}` : `FAILED  ${verdict.id}: ${verdict.problems.join('; ')}`);
			if (boot)
				print(
					`${boot.ok ? 'booted ' : 'NO BOOT'} ${flags.point ?? newest!.id}: ${boot.message} (console: ${boot.console}${boot.screenshot ? `, screenshot: ${boot.screenshot}` : ''}, in the VM's folder of the repository)`,
				);
		}
		return verdicts.every(verdict => verdict.ok) && (!flags.boot || boot?.ok === true) ? 0 : 1;
	},
});
