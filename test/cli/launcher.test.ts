import {readFile} from 'node:fs/promises';
import {describe, expect, it} from 'vitest';
import {FLAGS, GLOBAL_FLAGS, type FlagName} from '../../source/cli/flags.js';

describe('bin/snapdeck, the launcher', () => {
	it("skips the value of every shared flag that takes one (FLAGS' string flags) when it looks for a command", async () => {
		const launcher = await readFile('bin/snapdeck', 'utf8');
		const body = /opens_ui\(\) \{([\s\S]*?)\n\}/.exec(launcher)?.[1] ?? '';
		const pattern = /case \$arg in\s+([^)]*)\) value=1 ;;/.exec(body)?.[1] ?? '';
		const listed = pattern
			.replace(/\\\n/g, ' ')
			.split('|')
			.map(word => word.trim())
			.filter(Boolean)
			.sort();
		const valued = (Object.keys(FLAGS) as FlagName[])
			.filter(name => FLAGS[name].type === 'string')
			.flatMap(name => [`--${name}`, ...('short' in FLAGS[name] ? [`-${(FLAGS[name] as {short: string}).short}`] : [])])
			.sort();
		expect(listed).toEqual(valued);
		// The UI's own flags are among them (it opens with a connection and a repository named).
		for (const flag of GLOBAL_FLAGS.filter(name => FLAGS[name].type === 'string'))
			expect(listed).toContain(`--${flag}`);
	});
});
