import {buildDemoLab, DEMO_VMS, startDemoVms} from '../../service/demo-lab.js';
import path from 'node:path';
import {connectionUris, defaultDemoDir, print, printJson, repositoryDir, uiServices, note} from '../support.js';
import {defineCommand} from '../command.js';

export default defineCommand({
	name: 'demo',
	order: 10,
	summary: 'build the demo lab and open the UI on it',
	description:
		"The lab is a few VMs on real qcow2 images (the local adapter); where qemu-system is installed, one of them runs. Without a terminal it prints the lab's folder instead of opening the UI.",
	args: [],
	examples: [
		{line: 'snapdeck demo', does: "builds the lab in demo/ of the user's data directory (once) and opens the UI on it"},
	],
	flags: ['dir'],
	ownFlags: {
		dir: {
			type: 'string',
			value: 'DIR',
			help: "where the demo lab is built (default: demo/ in the user's data directory)",
		},
	},
	async run({flags}) {
		const dir = flags.dir ?? defaultDemoDir();
		const {created} = await buildDemoLab(dir, name => flags.json || note(`building demo VM ${name}`));
		const {running, note: started} = await startDemoVms(dir);
		if (started && !flags.json) note(started);
		if (flags.json) {
			printJson({dir, connect: `local:${dir}`, created, vms: DEMO_VMS.map(vm => vm.name), running});
			return 0;
		}
		// Before the UI's alternate screen, so it is still there when the UI ends.
		const reach = await reachNote(dir);
		if (reach) note(reach);
		if (!process.stdout.isTTY || !process.stdin.isTTY) {
			print(dir);
			return 0;
		}
		const repository = await repositoryDir(flags.repo, false);
		const {openUi} = await import('../open-ui.js');
		return openUi(`local:${dir}`, async () => uiServices([`local:${dir}`], repository));
	},
});

/** How the other commands find a lab built where they do not look (--dir elsewhere): null where they do. */
async function reachNote(dir: string): Promise<string | null> {
	const uris = await connectionUris(undefined).catch(() => []);
	const lab = path.resolve(dir);
	if (uris.some(uri => uri.startsWith('local:') && path.resolve(uri.slice('local:'.length)) === lab)) return null;
	return `the other commands reach this lab with --connect local:${lab} (or SNAPDECK_CONNECT=local:${lab}); without it they use ${uris.join(', ') || 'the default connection'}`;
}
