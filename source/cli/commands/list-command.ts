import {renderList} from '../render.js';
import {openSessions, print, printJson, repositoryDir, repositoryNamed} from '../support.js';
import {defineCommand} from '../command.js';

export default defineCommand({
	name: 'list',
	summary: 'VMs: state, disks, snapshot count, chain depth',
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
