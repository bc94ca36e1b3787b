#!/usr/bin/env node
// Writes the README's "## Commands" block from the command registry, as `snapdeck --help` prints
// it (run `npm run build` first). With --check, changes nothing and exits 1 when the README differs.
import {execFileSync} from 'node:child_process';
import {readFileSync, writeFileSync} from 'node:fs';

const help = execFileSync(process.execPath, ['bin/snapdeck.js', '--help'], {encoding: 'utf8'});
const start = help.indexOf('Usage:\n') + 'Usage:\n'.length;
const usage = help
	.slice(start, help.indexOf('\n\n', start))
	.split('\n')
	.map(line => line.slice(2))
	.join('\n');
const readme = readFileSync('README.md', 'utf8');
const block = /(## Commands\n\n```\n)([\s\S]*?)(\n```)/;
if (!block.test(readme)) throw new Error('README.md has no "## Commands" code block');
const next = readme.replace(block, (_, open, _old, close) => `${open}${usage}${close}`);
if (process.argv.includes('--check')) {
	if (next !== readme) {
		process.stderr.write("README.md's command list differs from 'snapdeck --help': run npm run readme\n");
		process.exit(1);
	}
} else if (next !== readme) writeFileSync('README.md', next);
