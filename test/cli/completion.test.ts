import {writeFile, cp, readFile, readdir, symlink} from 'node:fs/promises';
import path from 'node:path';
import {execa} from 'execa';
import {describe, expect, it} from 'vitest';
import {labWithVm, tempDir} from '../helpers/lab.js';

describe("bash completion ('snapdeck completion bash'), made from the command registry", () => {
	it('completes commands, a command\'s own options, its words, paths after a path option, and VM names of the connection on the line', async () => {
		const lab = await labWithVm('web1');
		const bin = await tempDir();
		// On PATH as npm puts it there: a link to bin/snapdeck.
		await symlink(path.resolve('bin/snapdeck'), path.join(bin, 'snapdeck'));
		const complete = async (...line: string[]) => {
			const script = `source <(snapdeck completion bash) && COMP_WORDS=("$@") && COMP_CWORD=$((\${#COMP_WORDS[@]} - 1)) && { _snapdeck; printf '%s\\n' "\${COMPREPLY[@]}"; }`;
			const result = await execa('bash', ['-c', script, 'bash', 'snapdeck', ...line], {env: {PATH: `${bin}:${process.env['PATH']}`, NO_COLOR: '1'}, cwd: lab.root});
			return result.stdout.split('\n').filter(Boolean).sort();
		};
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
		const bin = await tempDir();
		// On PATH as npm puts it there: a link to bin/snapdeck.
		await symlink(path.resolve('bin/snapdeck'), path.join(bin, 'snapdeck'));
		// Whoever can make a VM folder (or define a libvirt domain) chooses its name.
		for (const name of ['$(touch${IFS}pwned)', '`touch${IFS}pwned2`', 'w{a,b}']) {
			await cp(path.join(lab.root, 'web1'), path.join(lab.root, name), {recursive: true});
			const definition = JSON.parse(await readFile(path.join(lab.root, name, 'vm.json'), 'utf8')) as {name: string};
			await writeFile(path.join(lab.root, name, 'vm.json'), JSON.stringify({...definition, name}));
		}
		const script = `source <(snapdeck completion bash) && COMP_WORDS=("$@") && COMP_CWORD=$((\${#COMP_WORDS[@]} - 1)) && { _snapdeck; printf '%s\\n' "\${COMPREPLY[@]}"; }`;
		const complete = async (...line: string[]) => (await execa('bash', ['-c', script, 'bash', 'snapdeck', ...line], {env: {PATH: `${bin}:${process.env['PATH']}`, NO_COLOR: '1'}, cwd: lab.root})).stdout.split('\n').filter(Boolean).sort();
		expect(await complete('tree', '--connect', `local:${lab.root}`, '')).toEqual(['web1']);
		expect(await complete('tree', '--connect', `local:${lab.root}`, 'w')).toEqual(['web1']);
		expect((await readdir(lab.root)).filter(name => name.startsWith('pwned'))).toEqual([]);
	});
});
