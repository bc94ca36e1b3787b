import {writeFile} from 'node:fs/promises';
import path from 'node:path';
import {describe, expect, it} from 'vitest';
import {jsonOf, snapdeck} from '../helpers/cli.js';
import {labWithVm, tempDir} from '../helpers/lab.js';
import {renderAppOn} from '../helpers/ui.js';

/** Two labs, each a connection; the config names them "east" and "west". */
async function twoLabs() {
	const east = await labWithVm('east1');
	const west = await labWithVm('west1');
	const configDir = await tempDir();
	await writeFile(path.join(configDir, 'config.json'), JSON.stringify({connections: {east: `local:${east.root}`, west: `local:${west.root}`}, defaultConnection: ['east', 'west']}));
	const env = {SNAPDECK_CONFIG_DIR: configDir, SNAPDECK_REPO: path.join(await tempDir(), 'repo')};
	return {east, west, env, run: (...args: string[]) => snapdeck(args, env)};
}

describe('several connections at once', () => {
	it('list and health take several --connect (URIs or names), and the config\'s default may be a list', async () => {
		const {east, west, run} = await twoLabs();
		const both = jsonOf(await run('list', '--json', '--connect', 'east', '--connect', `local:${west.root}`)) as {connections: Array<{connection: string; vms: Array<{name: string}>}>};
		expect(both.connections.map(entry => [entry.connection, entry.vms.map(vm => vm.name)])).toEqual([[`local:${east.root}`, ['east1']], [`local:${west.root}`, ['west1']]]);
		const byDefault = jsonOf(await run('list', '--json')) as {connections: unknown[]};
		expect(byDefault.connections).toHaveLength(2);
		const one = jsonOf(await run('list', '--json', '--connect', 'west')) as {connection: string};
		expect(one.connection).toBe(`local:${west.root}`);

		const health = await run('health', '--json');
		expect(health.exitCode).toBe(1);
		const report = jsonOf(health) as {connections: Array<{connection: string; status: string}>; findings: Array<{vm: string}>};
		expect(report.connections.map(entry => entry.status)).toEqual(['warning', 'warning']);
		expect(report.findings.map(finding => finding.vm).sort()).toEqual(['east1', 'west1']);
	});

	it('a command on one VM refuses several connections, and an unknown name says which it knows', async () => {
		const {run} = await twoLabs();
		const take = await run('snapshot', 'east1', 's1', '--yes');
		expect(take.exitCode).toBe(2);
		expect(take.stderr).toContain('this command works on one connection, and 2 are chosen');
		expect((await run('snapshot', 'east1', 's1', '--yes', '--connect', 'east')).exitCode).toBe(0);
		const unknown = await run('list', '--connect', 'north');
		expect(unknown.exitCode).toBe(2);
		expect(unknown.stderr).toContain("'north' is neither a connection URI nor a connection named in");
		expect(unknown.stderr).toContain('named connections: east, west');
	});

	it('the UI opens on the first connection, and C switches to the next', async () => {
		const {east, west} = await twoLabs();
		const ui = renderAppOn([east.service, west.service]);
		await ui.waitFor(frame => frame.includes(`${east.hypervisor.uri} (1/2)`) && frame.includes('east1'), 'the first connection');
		ui.press('connection');
		await ui.waitFor(frame => frame.includes(`${west.hypervisor.uri} (2/2)`) && frame.includes('west1') && !frame.includes('east1'), 'the second connection');
		ui.press('connection');
		await ui.waitFor(frame => frame.includes('(1/2)') && frame.includes('east1'), 'back to the first');
	});
});
