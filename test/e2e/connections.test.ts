import {writeFile} from 'node:fs/promises';
import path from 'node:path';
import {describe, expect, it} from 'vitest';
import {jsonOf, snapdeck} from '../helpers/cli.js';
import {labWithVm, tempDir} from '../helpers/lab.js';

/** Two labs, each a connection; the config names them "east" and "west". */
async function twoLabs() {
	const east = await labWithVm('east1');
	const west = await labWithVm('west1');
	const configDir = await tempDir();
	await writeFile(
		path.join(configDir, 'config.json'),
		JSON.stringify({
			connections: {east: `local:${east.root}`, west: `local:${west.root}`},
			defaultConnection: ['east', 'west'],
		}),
	);
	const env = {SNAPDECK_CONFIG_DIR: configDir, SNAPDECK_REPO: path.join(await tempDir(), 'repo')};
	return {east, west, env, run: (...args: string[]) => snapdeck(args, env)};
}

/*
 * Several real labs at once. Refusing several connections for one VM, an unknown connection name,
 * and the UI's switch are test/cli/sessions.test.ts's and test/ui/switch-connection.test.tsx's
 * (on the in-memory hypervisor).
 */
describe('several connections at once', () => {
	it("list and health take several --connect (URIs or names), and the config's default may be a list", async () => {
		const {east, west, run} = await twoLabs();
		const both = jsonOf(await run('list', '--json', '--connect', 'east', '--connect', `local:${west.root}`)) as {
			connections: Array<{connection: string; vms: Array<{name: string}>}>;
		};
		expect(both.connections.map(entry => [entry.connection, entry.vms.map(vm => vm.name)])).toEqual([
			[`local:${east.root}`, ['east1']],
			[`local:${west.root}`, ['west1']],
		]);
		const byDefault = jsonOf(await run('list', '--json')) as {connections: unknown[]};
		expect(byDefault.connections).toHaveLength(2);
		const one = jsonOf(await run('list', '--json', '--connect', 'west')) as {connection: string};
		expect(one.connection).toBe(`local:${west.root}`);

		const health = await run('health', '--json');
		expect(health.exitCode).toBe(1);
		const report = jsonOf(health) as {
			connections: Array<{connection: string; status: string}>;
			findings: Array<{vm: string}>;
		};
		expect(report.connections.map(entry => entry.status)).toEqual(['warning', 'warning']);
		expect(report.findings.map(finding => finding.vm).sort()).toEqual(['east1', 'west1']);
	});
});
