import {renderTree} from '../render.js';
import {print, printJson} from '../support.js';
import {defineCommand} from '../command.js';

export default defineCommand({
	name: 'tree',
	order: 30,
	summary: "a VM's snapshot tree",
	args: [{key: 'vm', kind: 'vm', help: 'the VM'}],
	examples: [{line: 'snapdeck tree web1', does: "web1's snapshots, the one its present state descends from marked"}],
	flags: [],
	uses: ['inventory'],
	async run({args, flags, service}) {
		const view = await (await service()).tree(args.vm);
		if (flags.json) {
			printJson({
				vm: view.vm,
				current: view.current,
				problems: view.problems,
				findings: view.findings,
				pending: view.pending && {
					action: view.pending.plan.action,
					snapshot: view.pending.plan.snapshot,
					done: view.pending.done,
					total: view.pending.plan.steps.length,
				},
				snapshots: view.snapshots.map(snapshot => ({...snapshot, current: snapshot.name === view.current})),
			});
		} else {
			print(renderTree(view));
		}
		return view.problems.length > 0 ? 1 : 0;
	},
});
