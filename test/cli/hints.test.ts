import {readdir, readFile} from 'node:fs/promises';
import path from 'node:path';
import {describe, expect, it} from 'vitest';
import {COMMANDS} from '../../source/cli/commands/command-registry.js';
import {everyFlag} from '../../source/cli/command-flags.js';
import {GLOBAL_FLAGS} from '../../source/cli/flags.js';

/** Every command line snapdeck's messages tell the user to type: `'snapdeck COMMAND ...'` in the source. */
async function suggestedCommandLines(): Promise<Array<{file: string; line: string}>> {
	const files = (await readdir('source', {recursive: true})).filter(file => /\.tsx?$/.test(file));
	const found: Array<{file: string; line: string}> = [];
	for (const file of files) {
		const text = await readFile(path.join('source', file), 'utf8');
		// Quoted in a message ('snapdeck backup web1 --full', `snapdeck copy ${vm} --target X`).
		for (const match of text.matchAll(/'snapdeck ([a-z][a-z-]*)((?: [^'\n]*)?)'/g))
			found.push({file, line: `${match[1]}${match[2]}`});
	}
	return found;
}

describe('the command lines that messages and hints suggest', () => {
	it('name a command that exists and only options that command takes (a renamed option leaves no hint behind)', async () => {
		const lines = await suggestedCommandLines();
		// The scan finds the hints (it is not looking at nothing).
		expect(lines.length).toBeGreaterThan(40);
		const wrong: string[] = [];
		for (const {file, line} of lines) {
			const [name, first] = line.split(' ');
			const parent = COMMANDS.find(candidate => candidate.name === name);
			if (!parent) {
				if (name !== 'help') wrong.push(`${file}: '${line}': no command '${name}'`);
				continue;
			}
			// 'receipts verify FILE --key K': the subcommand's options.
			const command = parent.subcommands?.find(sub => sub.name === `${name} ${first}`) ?? parent;
			const allowed = new Set<string>([...GLOBAL_FLAGS, ...command.flags, 'version']);
			for (const [, flag] of line.matchAll(/(?:^| )--([a-z][a-z-]*)/g)) {
				if (!(flag! in everyFlag())) wrong.push(`${file}: '${line}': no option --${flag}`);
				else if (!allowed.has(flag!)) wrong.push(`${file}: '${line}': '${name}' does not take --${flag}`);
			}
		}
		expect(wrong).toEqual([]);
	});
});
