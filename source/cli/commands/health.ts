import {SnapdeckError} from '../../core/errors.js';
import {healthExitCode, worstOf} from '../../core/health.js';
import {prometheusText, renderHealth} from '../render.js';
import {openSessions, parseNow, print, printJson, repositoryDir, repositoryNamed, writeReport} from '../support.js';
import {defineCommand} from '../command.js';

export default defineCommand({
	name: 'health',
	usage: `  snapdeck health [VM...] [--prometheus FILE] [--now TIME]
                                            is everything healthy? findings with what to do; exit 0
                                            ok, 1 warnings, 2 critical, 3 could not tell`,
	flags: ['prometheus'],
	backups: true,
	async run({args, flags}) {
		const now = parseNow(flags.now);
		const sessions = await openSessions({connect: flags.connect, repository: await repositoryDir(flags.repo), named: repositoryNamed(flags.repo)});
		if (sessions.length > 1 && args.length > 0) throw new SnapdeckError('usage', 'name VMs only with one connection', 'choose it with --connect');
		const checked = await Promise.all(sessions.map(async svc => {
			const vms = await svc.health({now, only: args.length > 0 ? args : undefined});
			return {connection: svc.hypervisor.uri, vms};
		}));
		const findings = checked.flatMap(({vms}) => vms.flatMap(vm => vm.findings));
		const status = worstOf(findings);
		if (flags.prometheus !== undefined) await writeReport(flags.prometheus, prometheusText(checked, now));
		const vmsJson = (vms: typeof checked[number]['vms']) => vms.map(vm => ({name: vm.vm, status: worstOf(vm.findings), policy: vm.policy, findings: vm.findings, lastBackup: vm.lastBackup, lastProvedRestore: vm.lastProvedRestore}));
		if (flags.json) {
			printJson(checked.length === 1
				? {status, connection: checked[0]!.connection, checkedAt: now.toISOString(), vms: vmsJson(checked[0]!.vms), findings}
				: {status, checkedAt: now.toISOString(), connections: checked.map(({connection, vms}) => ({connection, status: worstOf(vms.flatMap(vm => vm.findings)), vms: vmsJson(vms)})), findings});
		} else {
			print(checked.map(({connection, vms}) => renderHealth(connection, vms, worstOf(vms.flatMap(vm => vm.findings)))).join('\n'));
		}
		return healthExitCode(status);
	},
});
