import {mkdir, writeFile} from 'node:fs/promises';
import path from 'node:path';
import {execa} from 'execa';
import {describe, expect, it, vi} from 'vitest';
import {jsonOf} from '../helpers/cli.js';
import {tempDir} from '../helpers/lab.js';
import {memoryCliLab, runCli} from '../helpers/memory-cli.js';

vi.mock('../../source/adapters/connect.js', async original =>
	(await import('../helpers/memory-cli.js')).memoryConnect(await original()),
);

/** Everything a refused command could have changed: the VMs, their definitions and every image. */
function stateOf(lab: ReturnType<typeof memoryCliLab>) {
	const {hypervisor} = lab;
	return async () => ({
		vms: await hypervisor.names(),
		definition: hypervisor.definitionOf('vm1'),
		images: [...hypervisor.images.keys()].sort(),
	});
}

/**
 * Bad input on the command line: the checks of names, arguments and the configuration, and their
 * words and exit codes, in-process on the in-memory hypervisor. test/e2e/bad-input.test.ts keeps
 * what only the real adapters can get wrong (damaged images, missing tools, a real lock), and the
 * contract (test/contract/) that a refused name changes nothing on them either.
 */
describe('bad input gets a clear error, exit code 2, and changes nothing', () => {
	const oddNames = [
		'with space',
		"qu'ote",
		'semi;colon',
		'$(touch pwned)',
		'`id`',
		'../escape',
		'a/b',
		'snäpshot',
		'*',
		'',
	];

	it.each(oddNames)('snapshot name %j', async name => {
		const lab = memoryCliLab();
		const state = stateOf(lab);
		const before = await state();
		const run = await runCli(['snapshot', 'vm1', name, '--yes', ...lab.connect]);
		expect(run.exitCode).toBe(2);
		expect(run.stderr).toContain('invalid snapshot name');
		expect(run.stderr).toContain('letters A-Z');
		expect(await state()).toEqual(before);
	});

	it('a name with a leading dash, after --, is refused as a name; before it, as an unknown option', async () => {
		const lab = memoryCliLab();
		const state = stateOf(lab);
		const before = await state();
		const afterDashes = await runCli(['snapshot', '--yes', ...lab.connect, '--', 'vm1', '-rf']);
		expect(afterDashes.exitCode).toBe(2);
		expect(afterDashes.stderr).toContain("starts with '-'");
		const asOption = await runCli(['snapshot', 'vm1', '-rf', ...lab.connect]);
		expect(asOption.exitCode).toBe(2);
		expect(asOption.stderr).toContain("unknown option '-rf'");
		expect(asOption.stderr).toContain("no VM or snapshot name begins with '-'");
		expect(await state()).toEqual(before);
	});

	it('an odd VM name, an unknown VM, an unknown snapshot, an unknown command', async () => {
		const lab = memoryCliLab();
		const connect = lab.connect;
		const odd = await runCli(['tree', '../vm1', ...connect]);
		expect([odd.exitCode, odd.stderr]).toEqual([2, expect.stringContaining('invalid VM name')]);
		const unknownVm = await runCli(['tree', 'nope', ...connect]);
		expect([unknownVm.exitCode, unknownVm.stderr]).toEqual([2, expect.stringContaining('its VMs are: vm1')]);
		const unknownSnapshot = await runCli(['revert', 'vm1', 'nope', '--yes', ...connect]);
		expect([unknownSnapshot.exitCode, unknownSnapshot.stderr]).toEqual([
			2,
			expect.stringContaining("has no snapshot 'nope'"),
		]);
		const unknownCommand = await runCli(['frobnicate']);
		expect(unknownCommand.exitCode).toBe(2);
		const json = await runCli(['tree', 'nope', '--json', ...connect]);
		expect(jsonOf(json)).toMatchObject({type: 'error', exitCode: 2, error: {kind: 'not-found', code: 'no-such-vm'}});
		// Each with its stable code, for scripts (README: "Error codes").
		const codeOf = async (...args: string[]) =>
			(jsonOf(await runCli([...args, '--json', ...connect])) as {error: {code: string}}).error.code;
		expect(await codeOf('tree', '../vm1')).toBe('bad-name');
		expect(await codeOf('revert', 'vm1', 'nope', '--yes')).toBe('no-such-snapshot');
		const repo = await tempDir();
		expect(await codeOf('restore', 'vm1', '--point', 'nope', '--to', path.join(repo, 'x.qcow2'), '--repo', repo)).toBe(
			'no-such-point',
		);
		expect(await codeOf('frobnicate')).toBe('usage');
	});
});

/** A receipt in all but a field or two of its own: a shape the checks get past. */
const RECEIPT_AT = '2026-12-01T00:00:00.000Z';
const RECEIPT_SHAPE = {
	receipt: {
		...{kind: 'snapdeck-restore-receipt', version: 1, vm: 'vm1', identity: null, point: 'p', files: []},
		...{
			proved: 'audit',
			how: 'h',
			startedAt: RECEIPT_AT,
			at: RECEIPT_AT,
			snapdeck: '0.1.0',
			host: 'h',
			repository: '/r',
		},
	},
	...{signature: 'AA==', publicKey: 'k', keyId: '0123456789abcdef'},
};

/**
 * Each of `files` ([name, content, why]) written into `dir` and given to `command` after it: bad
 * input (exit 2), said as `${file} ${refusal}: ${why}` in text and in --json, none of it echoed.
 */
async function refusedUnquoted(
	dir: string,
	command: readonly string[],
	files: ReadonlyArray<[string, string, string]>,
	refusal: string,
	echoed: RegExp,
) {
	for (const [name, content, why] of files) {
		const file = path.join(dir, name);
		await writeFile(file, content);
		for (const json of [[], ['--json']]) {
			const result = await runCli([...command, file, ...json]);
			expect(result.exitCode, name).toBe(2);
			expect(result.stdout + result.stderr, name).not.toMatch(echoed);
			const message = json.length > 0 ? (jsonOf(result)['error'] as {message: string}).message : result.stderr;
			expect(message, name).toContain(`${file} ${refusal}: ${why}`);
		}
	}
}

describe('a file that is not a receipt', () => {
	it('is named, with what a receipt is, and none of its content is echoed (text or --json)', async () => {
		const dir = await tempDir();
		const secret = 'root:x:0:0:SECRET';
		const files: Array<[string, string, string]> = [
			['passwd', `${secret}\n\x1b[31mred\n`, 'it is not JSON'],
			['array.json', `["${secret}"]`, 'expected object, received array'],
			['text.json', JSON.stringify({receipt: secret}), 'expected object, received string at receipt'],
			[
				'extra.json',
				JSON.stringify({...RECEIPT_SHAPE, [`\x1b]0;${secret}`]: 1}),
				'it has a field a receipt does not have',
			],
		];
		const refusal = 'is not a snapdeck receipt';
		await refusedUnquoted(dir, ['receipts', 'verify'], files, refusal, /root:x|SECRET|\x1b|\\x1b|31m/);
		for (const [name] of files)
			expect((await runCli(['receipts', 'verify', path.join(dir, name)])).stderr).toContain(
				"the VM's receipts/ folder",
			);
		await mkdir(path.join(dir, 'folder.json'));
		expect((await runCli(['receipts', 'verify', path.join(dir, 'folder.json')])).stderr).toContain(
			'folder.json is not a snapdeck receipt: it is a folder',
		);
	});

	it('a --key that is no public key is named, never read from a device or a pipe, and never echoed', async () => {
		const dir = await tempDir();
		const receipt = path.join(dir, 'receipt.json');
		await writeFile(receipt, JSON.stringify(RECEIPT_SHAPE));
		const text = path.join(dir, 'ops.pub');
		await writeFile(text, '-----BEGIN PUBLIC KEY-----\nSECRET\x1b[31m\n-----END PUBLIC KEY-----\n');
		const pipe = path.join(dir, 'pipe.pub');
		await execa('mkfifo', [pipe]);
		const cases: Array<[string, number, string]> = [
			[text, 2, `${text} is not a public key: it holds no PEM public key`],
			['/dev/zero', 2, '/dev/zero is not a public key: it is not a regular file'],
			[pipe, 2, `${pipe} is not a public key: it is not a regular file`],
			[path.join(dir, 'gone.pub'), 2, `there is no public key ${path.join(dir, 'gone.pub')}`],
		];
		for (const [key, code, said] of cases) {
			const result = await runCli(['receipts', 'verify', receipt, '--key', key]);
			expect([result.exitCode, result.stderr], key).toEqual([code, expect.stringContaining(said)]);
			expect(result.stderr).not.toMatch(/SECRET|\x1b/);
		}
	});
});

describe('the configuration file', () => {
	it('supplies the default connection, and a bad value is named by key and file', async () => {
		const lab = memoryCliLab();
		const configDir = await tempDir();
		const config = path.join(configDir, 'config.json');
		await writeFile(config, JSON.stringify({defaultConnection: lab.hypervisor.uri, keymap: {take: ['s']}}));
		const list = await runCli(['list', '--json'], {SNAPDECK_CONFIG_DIR: configDir});
		expect(list.exitCode).toBe(0);
		expect(jsonOf(list)['connection']).toBe(lab.hypervisor.uri);

		await writeFile(config, JSON.stringify({defaultConnection: 5}));
		const bad = await runCli(['list'], {SNAPDECK_CONFIG_DIR: configDir});
		expect(bad.exitCode).toBe(2);
		expect(bad.stderr).toContain(`${config} is not a valid snapdeck configuration: Invalid input at defaultConnection`);
		await writeFile(config, JSON.stringify({colour: 'pink'}));
		const unknown = await runCli(['list'], {SNAPDECK_CONFIG_DIR: configDir});
		expect([unknown.exitCode, unknown.stderr]).toEqual([
			2,
			expect.stringContaining('it has a field a configuration does not have'),
		]);
	});

	it('is named when it is wrong, and none of its content is echoed (config validate FILE, the one in use; text or --json)', async () => {
		const dir = await tempDir();
		const secret = 'hunter2-SECRET';
		const files: Array<[string, string, string]> = [
			['config.json', `password=${secret}\n\x1b[31mred\n`, 'it is not JSON'],
			['list.json', `["${secret}"]`, 'expected object, received array'],
			[
				'value.json',
				JSON.stringify({defaultConnection: 5, notify: [{url: secret}]}),
				'Invalid input at defaultConnection',
			],
			['key.json', JSON.stringify({[`\x1b]0;${secret}`]: 1}), 'it has a field a configuration does not have'],
			[
				'cron.json',
				JSON.stringify({policies: [{name: 'p', snapshots: {schedule: `${secret} x`}}]}),
				'not a cron expression',
			],
		];
		const refusal = 'is not a valid snapdeck configuration';
		await refusedUnquoted(dir, ['config', 'validate'], files, refusal, /hunter2|SECRET|\x1b|\\x1b|31m/);
		// The configuration in use, read when a command starts.
		const inUse = await runCli(['config', 'validate', '--json'], {SNAPDECK_CONFIG_DIR: dir});
		expect(inUse.exitCode).toBe(2);
		expect(inUse.stdout + inUse.stderr).not.toMatch(/hunter2|SECRET|31m/);
		expect(inUse.stdout).toContain('config.json is not a valid snapdeck configuration: it is not JSON');
		await mkdir(path.join(dir, 'folder.json'));
		expect((await runCli(['config', 'validate', path.join(dir, 'folder.json')])).stderr).toContain(
			'folder.json is not a valid snapdeck configuration: it is a folder',
		);
	});

	it('is not called valid when there is none: config validate with no configuration file in place says so and fails', async () => {
		const dir = await tempDir();
		const none = await runCli(['config', 'validate'], {SNAPDECK_CONFIG_DIR: dir});
		expect([none.exitCode, none.stdout]).toEqual([2, '']);
		expect(none.stderr).toContain(`there is no configuration at ${path.join(dir, 'config.json')}: nothing to check`);
		await writeFile(path.join(dir, 'config.json'), '{}');
		const present = await runCli(['config', 'validate'], {SNAPDECK_CONFIG_DIR: dir});
		expect([present.exitCode, present.stdout.trim()]).toEqual([0, `${path.join(dir, 'config.json')}: valid`]);
	});
});
