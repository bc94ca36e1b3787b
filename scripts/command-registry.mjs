#!/usr/bin/env node
// Writes source/cli/commands/command-registry.ts: an import of each NAME-command.ts of that folder,
// so a new command is its module and nothing else. `npm run build` (scripts/bundle.mjs, which the
// tests' setup runs too) and `npm run typecheck` write it first; it is checked in, so the sources
// type-check as they are. With --check it writes nothing and exits 1 where the file is not what the
// folder makes (`npm run lint`, and test/scripts/command-registry.test.ts).
import {readdirSync, readFileSync, writeFileSync} from 'node:fs';
import path from 'node:path';
import {fileURLToPath} from 'node:url';

export const COMMANDS_DIR = 'source/cli/commands';
export const REGISTRY = 'command-registry.ts';

/** `backup-command.ts` -> `backupCommand`: the name its import takes in the registry. */
const identifier = file => file.replace(/\.ts$/, '').replace(/-([a-z0-9])/g, (_, letter) => letter.toUpperCase());

/** The registry's text for these files of the folder: each NAME-command.ts, by name. */
export function registrySource(files) {
	const modules = files.filter(file => /^[a-z][a-z0-9-]*-command\.ts$/.test(file)).sort();
	return `// Made by scripts/command-registry.mjs from the NAME-command.ts files of this folder: do not edit.
// A new command is its module here; \`npm run build\` (and the tests' setup) rewrites this list.
import type {Command} from '../command.js';
${modules.map(file => `import ${identifier(file)} from './${file.replace(/\.ts$/, '.js')}';`).join('\n')}

/** Every command, in the order the help lists them: by each spec's \`order\`, then by name. */
export const COMMANDS: readonly Command[] = [
${modules.map(file => `\t${identifier(file)},`).join('\n')}
].sort((a, b) => (a.order ?? Infinity) - (b.order ?? Infinity) || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
`;
}

/** Writes (or, with `check`, compares) the registry of `dir`; returns whether it was current. */
export function writeRegistry(dir = COMMANDS_DIR, {check = false} = {}) {
	const file = path.join(dir, REGISTRY);
	const wanted = registrySource(readdirSync(dir));
	let current = null;
	try {
		current = readFileSync(file, 'utf8');
	} catch {
		// None yet: written below.
	}
	if (current === wanted) return true;
	if (!check) writeFileSync(file, wanted);
	return false;
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
	const check = process.argv.includes('--check');
	if (!writeRegistry(COMMANDS_DIR, {check}) && check) {
		process.stderr.write(
			`${COMMANDS_DIR}/${REGISTRY} is not the list of the folder's NAME-command.ts files: run node scripts/command-registry.mjs (npm run build does)\n`,
		);
		process.exit(1);
	}
}
