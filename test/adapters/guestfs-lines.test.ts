import {chmod, mkdir, readFile, writeFile} from 'node:fs/promises';
import path from 'node:path';
import {afterEach, describe, expect, it} from 'vitest';
import {commandLine, Guestfs, MAX_COMMAND_BYTES} from '../../source/adapters/guestfs.js';
import {tempDir} from '../helpers/lab.js';

/**
 * A stand-in for guestfish that answers `echo` and keeps every line it is sent in $HOME/stdin
 * (HOME is the scratch folder): what the real one would read, line by line.
 */
const FAKE_GUESTFISH = `#!/bin/sh
while IFS= read -r line; do
	printf '%s\\n' "$line" >> "$HOME/stdin"
	case "$line" in echo\\ *) printf '%s\\n' "\${line#echo }";; esac
done
`;

/** A guest name that, quoted, puts `!touch FILE #` where guestfish's 8192-byte buffer cuts the line. */
function nameAtTheCut(verb: string, file: string): string {
	const before = `${verb} "/`;
	return `/${'a'.repeat(8191 - before.length)}!touch ${file} #`;
}

describe('the lines snapdeck sends guestfish', () => {
	afterEach(() => {
		delete process.env['SNAPDECK_GUESTFISH'];
	});

	it("are each one whole command that fits guestfish's line buffer; a longer one is refused, not cut", () => {
		expect(commandLine('lstatns "/etc/hosts"')).toBe('lstatns "/etc/hosts"\n');
		expect(() => commandLine(`lstatns "${nameAtTheCut('lstatns', '/tmp/x')}"`)).toThrow(
			/too long for guestfish: its lstatns command would be \d+ bytes/,
		);
		expect(() => commandLine(`lstatns "/${'a'.repeat(MAX_COMMAND_BYTES - 12)}"`)).not.toThrow();
		expect(() => commandLine(`lstatns "/${'a'.repeat(MAX_COMMAND_BYTES - 11)}"`)).toThrow(/too long/);
		for (const line of ['!touch /tmp/x', '-lstatns "/"', '# comment', ' lstatns "/"', '', 'lstatns "/a\nb"'])
			expect(() => commandLine(line), JSON.stringify(line)).toThrow(/internal/);
	});

	it('never carry a guest name past the cut: a batch with one line too long sends nothing', async () => {
		const dir = await tempDir();
		const fake = path.join(dir, 'guestfish');
		await writeFile(fake, FAKE_GUESTFISH);
		await chmod(fake, 0o755);
		process.env['SNAPDECK_GUESTFISH'] = fake;
		const scratch = path.join(dir, 'scratch');
		await mkdir(scratch);
		const guestfs = await Guestfs.open(['disk.qcow2'], {scratch});
		try {
			const planted = path.join(dir, 'planted');
			await expect(
				guestfs.statAll([Buffer.from('/etc/hosts'), Buffer.from(nameAtTheCut('lstatns', planted))]),
			).rejects.toThrow(/too long for guestfish/);
			expect(await guestfs.run('echo still here')).toBe('still here\n');
		} finally {
			await guestfs.close();
		}
		const sent = (await readFile(path.join(scratch, 'stdin'), 'utf8')).split('\n').slice(0, -1);
		expect(sent.filter(line => !line.startsWith('echo @@snapdeck-'))).toEqual(['run', 'echo still here', 'exit']);
		for (const line of sent) expect(Buffer.byteLength(line) + 1).toBeLessThan(8192);
	});
});
