import {appendFile, cp, mkdir, writeFile} from 'node:fs/promises';
import path from 'node:path';
import {execa} from 'execa';
import {describe, expect, it} from 'vitest';
import {tempDir} from '../helpers/lab.js';

const check = (root?: string) => execa('node', ['scripts/check-layers.mjs', ...(root ? [root] : [])], {reject: false});

describe('the layering and naming check (scripts/check-layers.mjs, run by npm test and npm run lint)', () => {
	it('passes on the tree as it is', async () => {
		const result = await check();
		expect(result.exitCode, result.stderr).toBe(0);
		expect(result.stdout).toMatch(/^layering ok: \d+ files.*; no two files share a base name$/m);
	});

	it.each([
		['in two folders', 'source/backup/health.ts', 'source/backup/health.ts, source/core/health.ts', 'health'],
		[
			'but for .ts and .tsx',
			'source/ui/components/tree.tsx',
			'source/core/tree.ts, source/ui/components/tree.tsx',
			'tree',
		],
	])('fails when two files under source/ share a base name %s, naming both', async (_how, added, both, name) => {
		const root = await tempDir();
		await cp('source', path.join(root, 'source'), {recursive: true});
		await writeFile(path.join(root, added), 'export const x = 1;\n');
		const result = await check(root);
		expect(result.exitCode).toBe(1);
		expect(result.stderr).toContain(`${both}: one base name '${name}' for 2 files`);
	});

	it.each([
		[
			'core',
			'source/core/units.ts',
			"import {localRunner} from '../adapters/exec.js';",
			'core may not import adapters',
		],
		[
			'an adapter',
			'source/adapters/local/vm-file.ts',
			"import {Virsh} from '../libvirt/virsh.js';",
			'adapters/local may not import adapters/libvirt',
		],
		[
			'the UI',
			'source/ui/theme.ts',
			"const late = () => import('../adapters/connect.js');",
			'ui may not import adapters',
		],
		[
			'the command line',
			'source/cli/commands/tree-command.ts',
			"import {connect} from '../../adapters/connect.js';",
			'cli may not import adapters',
		],
		[
			"the UI, a port's implementation",
			'source/ui/actions.ts',
			"import type {backupsPort} from '../service/backups-port.js';",
			"ui may not import a port's implementation",
		],
		[
			"the command line, the ports' factory",
			'source/cli/commands/tree-command.ts',
			"const late = () => import('../../service/session-ports.js');",
			"cli may not import the ports' factory",
		],
		[
			'the UI, the context the ports share',
			'source/ui/app.tsx',
			"import type {SessionContext} from '../service/session-context.js';",
			"ui may not import the context the ports' modules share",
		],
		[
			"the command line, the adapter's interface",
			'source/cli/support.ts',
			"import type {Hypervisor} from '../adapters/hypervisor.js';",
			"cli may not import the adapter's interface",
		],
	])('fails on a wrong import in %s, naming the file, the line and the rule', async (_where, file, line, rule) => {
		const root = await tempDir();
		await cp('source', path.join(root, 'source'), {recursive: true});
		await mkdir(path.join(root, 'scripts'), {recursive: true});
		await appendFile(path.join(root, file), `\n${line}\n`);
		const result = await check(root);
		expect(result.exitCode).toBe(1);
		expect(result.stderr).toMatch(new RegExp(`${file.replaceAll('/', '\\/').replaceAll('.', '\\.')}:\\d+: ${rule}`));
	});
});
