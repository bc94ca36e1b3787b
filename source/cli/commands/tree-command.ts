import {renderTree} from '../render.js';
import {expectArgs, print, printJson} from '../support.js';
import {defineCommand} from '../command.js';

export default defineCommand({
	name: 'tree',
	usage: `  snapdeck tree VM                          a VM's snapshot tree`,
	flags: [],
	uses: ['inventory'],
	async run({args, flags, service}) {
		const command = 'tree';
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
	},
});
