import {renderList} from '../render.js';
import {openSessions, print, printJson, repositoryDir, repositoryNamed} from '../support.js';
import {defineCommand} from '../command.js';

export default defineCommand({
	name: 'list',
	order: 20,
	summary: 'VMs: state, disks, snapshot count, chain depth',
	description:
		"Every VM is listed, a damaged one too (an image missing, cut short or not qcow2, metadata that cannot be read): it is marked with '!' and what is wrong (\"error\" in --json), and the exit status is then 1, so a script sees it; 'snapdeck health' says what to do.",
	args: [],
	examples: [{line: 'snapdeck list --connect qemu:///system --json', does: 'the VMs of the local libvirt, as JSON'}],
	flags: [],
	async run({flags}) {
		const repository = await repositoryDir(flags.repo, false);
		const listed = await Promise.all(
			(await openSessions({connect: flags.connect, repository, named: repositoryNamed(flags.repo)})).map(async svc => ({
				connection: svc.connection.uri,
				vms: await svc.list(),
			})),
		);
		// One connection: the documented shape; several: one entry each.
		if (flags.json) printJson(listed.length === 1 ? listed[0] : {connections: listed});
		else print(listed.map(({connection, vms}) => renderList(connection, vms)).join('\n\n'));
		return listed.some(({vms}) => vms.some(vm => vm.error)) ? 1 : 0;
	},
});
