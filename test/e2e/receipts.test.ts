import {generateKeyPairSync} from 'node:crypto';
import {readdir, readFile, writeFile} from 'node:fs/promises';
import path from 'node:path';
import {describe, expect, it} from 'vitest';
import {jsonOf, snapdeck} from '../helpers/cli.js';
import {labWithVm, tempDir} from '../helpers/lab.js';

describe('restore receipts: what was proved of a point, signed, checked offline', () => {
	it('a passing restore test writes a receipt that verifies with the public key alone, and fails after one byte changes; health and Prometheus show when a restore was last proved', async () => {
		const lab = await labWithVm('vm1', ['vda'], 16);
		const repo = path.join(await tempDir(), 'repo');
		const config = await tempDir();
		const env = {SNAPDECK_CONFIG_DIR: config};
		const run = (args: string[]) => snapdeck([...args, '--connect', `local:${lab.root}`, '--repo', repo], env);
		await lab.write(0x61, 1);
		expect((await run(['backup', 'vm1'])).exitCode).toBe(0);
		expect(
			(jsonOf(await run(['health', 'vm1', '--json']))['vms'] as Array<{lastProvedRestore: string | null}>)[0]!
				.lastProvedRestore,
		).toBeNull();
		expect((await run(['verify', 'vm1', '--restore-test'])).exitCode).toBe(0);

		const listed = jsonOf(await run(['receipts', 'vm1', '--json']))['receipts'] as Array<{
			file: string;
			receipt: {proved: string; point: string; files: unknown[]; identity: {uuid: string}};
			keyId: string;
		}>;
		expect(listed).toHaveLength(1);
		expect(listed[0]!.receipt).toMatchObject({
			proved: 'restore-test',
			files: [expect.objectContaining({file: expect.stringMatching(/^vda\//)})],
			identity: {uuid: expect.any(String)},
		});
		const file = listed[0]!.file;
		// The private key stays private; the public one is all a verifier needs.
		expect((await readdir(config)).sort()).toEqual(
			expect.arrayContaining(['receipts-ed25519.key', 'receipts-ed25519.pub']),
		);
		const publicKey = path.join(await tempDir(), 'signer.pub');
		await writeFile(publicKey, await readFile(path.join(config, 'receipts-ed25519.pub')));
		const valid = await snapdeck(['receipts', 'verify', file, '--key', publicKey]);
		expect(valid.exitCode, valid.stderr).toBe(0);
		expect(valid.stdout).toMatch(/^valid: restore-test of point \S+ of vm1/);

		// One byte changed: invalid. Another key: invalid.
		const text = await readFile(file, 'utf8');
		const changed = path.join(await tempDir(), 'changed.json');
		await writeFile(changed, text.replace('"proved": "restore-test"', '"proved": "boot-test"'));
		const forged = await snapdeck(['receipts', 'verify', changed, '--key', publicKey]);
		expect(forged.exitCode).toBe(1);
		expect(forged.stdout).toContain('INVALID: the receipt was changed after it was signed');
		const other = path.join(await tempDir(), 'other.pub');
		await writeFile(other, generateKeyPairSync('ed25519').publicKey.export({type: 'spki', format: 'pem'}) as string);
		expect((await snapdeck(['receipts', 'verify', file, '--key', other])).exitCode).toBe(1);

		const health = jsonOf(await run(['health', 'vm1', '--json']))['vms'] as Array<{lastProvedRestore: string | null}>;
		expect(health[0]!.lastProvedRestore).toMatch(/^\d{4}-/);
		const textfile = path.join(await tempDir(), 'snapdeck.prom');
		await run(['health', '--prometheus', textfile]);
		expect(await readFile(textfile, 'utf8')).toMatch(
			/^snapdeck_last_verified_restore_timestamp_seconds\{connection="[^"]+",vm="vm1"\} \d+$/m,
		);

		// A receipt the repository holds but this user's key did not sign proves nothing to health.
		await writeFile(file, text.replace('"proved": "restore-test"', '"proved": "audit"'));
		expect(
			(jsonOf(await run(['health', 'vm1', '--json']))['vms'] as Array<{lastProvedRestore: string | null}>)[0]!
				.lastProvedRestore,
		).toBeNull();
	});
});
