import {buildDemoLab, DEMO_VMS, startDemoVms} from '../../service/demo-lab.js';
import {defaultDemoDir, expectArgs, print, printJson, repositoryDir, uiServices, note} from '../support.js';
import {defineCommand} from '../command.js';

export default defineCommand({
	name: 'demo',
	usage: `  snapdeck demo [--dir DIR]                 build the demo lab (qcow2 images) and open the UI on it`,
	flags: ['dir'],
	async run({args, flags}) {
		const command = 'demo';
		expectArgs(command, args, []);
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
