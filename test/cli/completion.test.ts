import {writeFile, cp, readFile, readdir, symlink} from 'node:fs/promises';
import path from 'node:path';
import {execa} from 'execa';
import {describe, expect, it} from 'vitest';
import {labWithVm, tempDir} from '../helpers/lab.js';

/** What bash offers for a command line (its last word being completed), sorted: snapdeck on PATH as npm puts it there, a link to bin/snapdeck. */
async function completer(cwd: string) {
	const bin = await tempDir();
	await symlink(path.resolve('bin/snapdeck'), path.join(bin, 'snapdeck'));
	const script = `source <(snapdeck completion bash) && COMP_WORDS=("$@") && COMP_CWORD=$((\${#COMP_WORDS[@]} - 1)) && { _snapdeck; printf '%s\\n' "\${COMPREPLY[@]}"; }`;
	return async (...line: string[]) =>
		(
			await execa('bash', ['-c', script, 'bash', 'snapdeck', ...line], {
				env: {PATH: `${bin}:${process.env['PATH']}`, NO_COLOR: '1'},
				cwd,
			})
		).stdout
			.split('\n')
			.filter(Boolean)
			.sort();
}

describe("bash completion ('snapdeck completion bash'), made from the command specs", () => {
	it("completes commands, a command's own options, its words, paths after a path option, and VM names of the connection on the line", async () => {
		const lab = await labWithVm('web1');
		const complete = await completer(lab.root);
		expect(await complete('li')).toEqual(['list']);
		expect(await complete('back')).toEqual(['backup', 'backups']);
		expect(await complete('backup', 'web1', '--ful')).toEqual(['--full']);
		// Only the command's own options and the global ones: snapshot takes no --keep-daily.
		expect(await complete('snapshot', '--keep')).toEqual([]);
		expect(await complete('prune', 'web1', '--keep-d')).toEqual(['--keep-daily']);
		expect(await complete('config', 's')).toEqual(['schema', 'show']);
		expect(await complete('tree', '--connect', `local:${lab.root}`, 'w')).toEqual(['web1']);
		expect(await complete('restore', 'web1', '--to', 'we')).toEqual(['web1']);
		expect(await complete('snapshot', 'web1', '--description', '')).toEqual([]);
	});

	it('never runs a VM name: a name from the connection is not expanded, and one snapdeck refuses is not offered', async () => {
		const lab = await labWithVm('web1');
		// Whoever can make a VM folder (or define a libvirt domain) chooses its name.
		for (const name of ['$(touch${IFS}pwned)', '`touch${IFS}pwned2`', 'w{a,b}']) {
			await cp(path.join(lab.root, 'web1'), path.join(lab.root, name), {recursive: true});
			const definition = JSON.parse(await readFile(path.join(lab.root, name, 'vm.json'), 'utf8')) as {name: string};
			await writeFile(path.join(lab.root, name, 'vm.json'), JSON.stringify({...definition, name}));
		}
		const complete = await completer(lab.root);
		expect(await complete('tree', '--connect', `local:${lab.root}`, '')).toEqual(['web1']);
		expect(await complete('tree', '--connect', `local:${lab.root}`, 'w')).toEqual(['web1']);
		expect((await readdir(lab.root)).filter(name => name.startsWith('pwned'))).toEqual([]);
	});

	it("offers at each argument what its kind takes: VMs, that VM's snapshots, more VMs where it takes several, subcommands, paths, and nothing for a new name", async () => {
		const lab = await labWithVm('web1');
		await lab.take('pre-upgrade');
		await lab.take('pre-kernel');
		await writeFile(path.join(lab.root, 'receipt.json'), '{}');
		const complete = await completer(lab.root);
		const connect = ['--connect', `local:${lab.root}`];
		// A VM position, wherever the flags are.
		expect(await complete('revert', ...connect, '')).toEqual(['web1']);
		expect(await complete(...connect, 'merge', 'w')).toEqual(['web1']);
		// A snapshot position: the snapshots of the VM before it.
		expect(await complete('revert', ...connect, 'web1', 'pre-')).toEqual(['pre-kernel', 'pre-upgrade']);
		expect(await complete('merge', 'web1', ...connect, 'pre-k')).toEqual(['pre-kernel']);
		// health takes several VMs: each position offers them.
		expect(await complete('health', ...connect, 'web1', '')).toEqual(['web1']);
		// A subcommand or a VM; after the subcommand, its own argument (a file) and its own options.
		expect(await complete('receipts', ...connect, '')).toEqual(['verify', 'web1']);
		expect(await complete('receipts', 'verify', 'rec')).toEqual(['receipt.json']);
		expect(await complete('receipts', 'verify', '--k')).toEqual(['--key']);
		expect(await complete('config', 'validate', 'rec')).toEqual(['receipt.json']);
		// A new snapshot's name: nothing to offer (not the VM's files, not its snapshots).
		expect(await complete('snapshot', ...connect, 'web1', '')).toEqual([]);
		// Past a command's last argument: nothing.
		expect(await complete('tree', ...connect, 'web1', '')).toEqual([]);
		expect(await complete('help', 're')).toEqual(['receipts', 'recover', 'restore', 'revert']);
		// After '--', a word that begins with '-' is an argument, not an option to complete.
		expect(await complete('tree', ...connect, '--', '-')).toEqual([]);
	});
});
