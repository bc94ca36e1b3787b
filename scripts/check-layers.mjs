#!/usr/bin/env node
// Checks the one rule of layering in ../shared/DESIGN.md on every import under source/:
// ui and cli -> service -> (backup, adapters, jobs, config) -> core; core imports nothing of ours;
// no adapter imports another; the UI and the command line reach the service through its ports
// (service/ports.ts), never through what implements them or the adapter's interface. Usage: node scripts/check-layers.mjs [ROOT] (ROOT defaults to the
// project). Exits 1 naming each import that breaks a rule, and each exception below that is no
// longer needed (so the list can only shrink).
// It also checks that no two files under source/ (and none under test/) share a base name, the
// extension aside: each file's name says its job (core/backup-manifest.ts, the model, beside
// backup/run-backup.ts, the job), so an import, a stack trace or a search names one file.
import {existsSync, readdirSync, readFileSync} from 'node:fs';
import path from 'node:path';

const root = path.resolve(process.argv[2] ?? path.join(import.meta.dirname, '..'));
const source = path.join(root, 'source');

/** What every adapter shares (DESIGN.md): QEMU's tools and protocols, and the state folder. Not adapters themselves. */
const SHARED = new Set(['qemu', 'state']);
/** The layer of a file: its folder under source/, and for adapters/X its adapter X. */
function layerOf(file) {
	const [top, sub] = path.relative(source, file).split(path.sep);
	if (top === 'adapters' && sub && !sub.includes('.') && !SHARED.has(sub)) return {layer: 'adapters', adapter: sub};
	return {layer: top.replace(/\.tsx?$/, ''), adapter: null};
}

/** What each layer may import (DESIGN.md's table). */
const MAY_IMPORT = {
	core: ['core'],
	adapters: ['core', 'adapters'],
	backup: ['core', 'adapters', 'backup'],
	jobs: ['core', 'jobs'],
	config: ['core', 'config'],
	service: ['core', 'adapters', 'backup', 'jobs', 'config', 'service'],
	ui: ['core', 'service', 'ui'],
	cli: ['core', 'service', 'cli'],
};

/**
 * Modules of a layer the UI and the command line may import that they still may not: what
 * implements the ports (each port's module, service/NAME-port.ts, the context they share and the
 * factory that joins them), and the adapter's interface. The session factory (service/session.ts)
 * is the one place that opens a session, and hands it out as ports.
 */
const FRONT_ENDS = ['ui', 'cli'];
const NOT_FOR_FRONT_ENDS = {
	'service/session-ports.ts': "the ports' factory: open a session through service/session.ts",
	'service/session-context.ts': "the context the ports' modules share: depend on the ports (service/ports.ts)",
	'adapters/hypervisor.ts':
		"the adapter's interface: what a front end knows of a connection is Inventory.connection (service/ports.ts)",
};
/** Why a front end may not import `file` (relative to source/), or undefined when it may. */
const keptFromFrontEnds = file =>
	NOT_FOR_FRONT_ENDS[file] ??
	(/^service\/[^/]+-port\.ts$/.test(file)
		? "a port's implementation: depend on the port it implements (service/ports.ts)"
		: undefined);

/** Imports that break the table today. A new one fails. */
const EXCEPTIONS = [
	// `snapdeck` without a command opens the UI: the one place the two front ends meet.
	'cli -> ui',
];

const walk = (dir, into = []) => {
	for (const entry of readdirSync(dir, {withFileTypes: true})) {
		const full = path.join(dir, entry.name);
		if (entry.isDirectory()) walk(full, into);
		else if (/\.tsx?$/.test(entry.name)) into.push(full);
	}
	return into;
};
const files = walk(source);

/** Each group of files in `list` whose names are the same but for .ts/.tsx, as one line. */
function sharedNames(list) {
	const byName = new Map();
	for (const file of list) {
		const name = path.basename(file).replace(/\.tsx?$/, '');
		byName.set(name, [...(byName.get(name) ?? []), path.relative(root, file)]);
	}
	return [...byName]
		.filter(([, same]) => same.length > 1)
		.map(
			([name, same]) =>
				`${same.sort().join(', ')}: one base name '${name}' for ${same.length} files; name each for its job (docs/architecture.md)`,
		);
}
const tests = path.join(root, 'test');
const clashes = [...sharedNames(files), ...(existsSync(tests) ? sharedNames(walk(tests)) : [])];

const describe = ({layer, adapter}) => (adapter ? `${layer}/${adapter}` : layer);
const broken = [];
const used = new Set();
for (const file of files) {
	const from = layerOf(file);
	const text = readFileSync(file, 'utf8');
	for (const match of text.matchAll(/(?:from\s+|import\s*\(\s*)'(\.{1,2}\/[^']+)'/g)) {
		const target = path.resolve(path.dirname(file), match[1]).replace(/\.js$/, '.ts');
		if (!target.startsWith(source + path.sep)) continue;
		const to = layerOf(target);
		const kept = FRONT_ENDS.includes(from.layer)
			? keptFromFrontEnds(path.relative(source, target).split(path.sep).join('/'))
			: undefined;
		if (kept) {
			const line = text.slice(0, match.index).split('\n').length;
			broken.push(`${path.relative(root, file)}:${line}: ${from.layer} may not import ${kept} (${match[1]})`);
			continue;
		}
		const allowed =
			MAY_IMPORT[from.layer]?.includes(to.layer) && !(from.adapter && to.adapter && from.adapter !== to.adapter);
		if (allowed) continue;
		const rule = `${describe(from)} -> ${describe(to)}`;
		const general = `${from.layer === 'adapters' ? describe(from) : from.layer} -> ${to.layer}`;
		if (EXCEPTIONS.includes(rule) || EXCEPTIONS.includes(general)) {
			used.add(EXCEPTIONS.includes(rule) ? rule : general);
			continue;
		}
		const line = text.slice(0, match.index).split('\n').length;
		broken.push(`${path.relative(root, file)}:${line}: ${describe(from)} may not import ${describe(to)} (${match[1]})`);
	}
}
for (const exception of EXCEPTIONS)
	if (!used.has(exception))
		broken.push(`scripts/check-layers.mjs: the exception '${exception}' is no longer needed: remove it`);

if (broken.length > 0)
	process.stderr.write(`layering (../shared/DESIGN.md) broken:\n${broken.map(line => `  ${line}`).join('\n')}\n`);
if (clashes.length > 0)
	process.stderr.write(
		`files that share a base name (each file's name says its job):\n${clashes.map(line => `  ${line}`).join('\n')}\n`,
	);
if (broken.length > 0 || clashes.length > 0) process.exit(1);
process.stdout.write(
	`layering ok: ${files.length} files, ${EXCEPTIONS.length} known exception(s) left, each listed in scripts/check-layers.mjs; no two files share a base name\n`,
);
