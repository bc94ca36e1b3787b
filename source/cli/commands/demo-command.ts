import {buildDemoLab, DEMO_VMS, startDemoVms} from '../../service/demo-lab.js';
import {defaultDemoDir, print, printJson, repositoryDir, uiServices, note} from '../support.js';
import {defineCommand} from '../command.js';

export default defineCommand({
	name: 'demo',
	summary: 'build the demo lab and open the UI on it',
	description:
		"The lab is a few VMs on real qcow2 images (the local adapter); where qemu-system is installed, one of them runs. Without a terminal it prints the lab's folder instead of opening the UI.",
	args: [],
	examples: [
		{line: 'snapdeck demo', does: "builds the lab in demo/ of the user's data directory (once) and opens the UI on it"},
	],
	flags: ['dir'],
	async run({flags}) {
		const dir = flags.dir ?? defaultDemoDir();
		const {created} = await buildDemoLab(dir, name => flags.json || note(`building demo VM ${name}`));
		const {running, note: started} = await startDemoVms(dir);
		if (started && !flags.json) note(started);
		if (flags.json) {
			printJson({dir, connect: `local:${dir}`, created, vms: DEMO_VMS.map(vm => vm.name), running});
			return 0;
		}
		if (!process.stdout.isTTY || !process.stdin.isTTY) {
			print(dir);
			return 0;
		}
		const repository = await repositoryDir(flags.repo, false);
		const {openUi} = await import('../open-ui.js');
		return openUi(`local:${dir}`, async () => uiServices([`local:${dir}`], repository));
	},
});
