import os from 'node:os';
import v8 from 'node:v8';

/**
 * While the startup snapshot is built (snapshot-entry.ts imports this first): every environment
 * variable that snapdeck's modules or libraries read as they load, and every question about the
 * user or the host they ask then (home and temporary folders, host name, user, working folder), is
 * recorded, and the build fails on one that changes what snapdeck does: an answer taken at load
 * would be the build's in every later run (env-paths once kept the builder's home that way).
 * Node's own reads (colours of its warnings) are not ours. Terminal and locale guesses of libraries
 * (TERM, LANG, CI...) and NODE_DEBUG (semver's debug log) are let through: no command depends on them.
 */
const HARMLESS = /^(TERM|TERM_PROGRAM|COLORTERM|LANG|LC_\w+|CI|WT_SESSION|TERMINUS_SUBLIME|ConEmuTask|NODE_DEBUG)$/;

const real = process.env;
const read = new Set<string>();

/**
 * Whether the caller of the function this is called from is ours (a module of the bundle), not
 * Node's own code; `between`: the guard's own frames between that function and this one.
 */
function calledByUs(between = 0): boolean {
	// However short a library set stack traces to be.
	const limit = Error.stackTraceLimit;
	Error.stackTraceLimit = 4 + between;
	const caller = (new Error().stack ?? '').split('\n')[3 + between] ?? '';
	Error.stackTraceLimit = limit;
	return !/\(node:|at node:/.test(caller);
}

/** Questions about the user and the host whose answers differ between the build and a run. */
const ASKED = [
	[os, ['homedir', 'tmpdir', 'hostname', 'userInfo'], 'os.'],
	[process, ['cwd', 'getuid', 'getgid'], 'process.'],
] as const;
const originals: Array<() => void> = [];

/** A variable's name read by one of our modules, from a trap of the proxy (a symbol is no variable). */
const noteRead = (key: string | symbol) => {
	if (typeof key === 'string' && calledByUs(1)) read.add(key);
};

if (v8.startupSnapshot.isBuildingSnapshot()) {
	process.env = new Proxy(real, {
		get(target, key) {
			noteRead(key);
			return Reflect.get(target, key);
		},
		// `'FORCE_COLOR' in process.env` reads it as much as process.env.FORCE_COLOR does.
		has(target, key) {
			noteRead(key);
			return Reflect.has(target, key);
		},
		// A copy ({...process.env}, Object.keys) keeps every variable of the build.
		ownKeys(target) {
			if (calledByUs()) read.add('every variable (a copy of process.env)');
			return Reflect.ownKeys(target);
		},
	});
	for (const [owner, names, prefix] of ASKED) {
		for (const name of names) {
			const original = (owner as unknown as Record<string, (...args: unknown[]) => unknown>)[name]!;
			(owner as unknown as Record<string, unknown>)[name] = function (this: unknown, ...args: unknown[]) {
				if (calledByUs()) read.add(`${prefix}${name}()`);
				return original.apply(this, args);
			};
			originals.push(() => {
				(owner as unknown as Record<string, unknown>)[name] = original;
			});
		}
	}
}

/** After every module loaded: the environment as it was, or the build stops naming what was read. */
export function loaded(): void {
	if (!v8.startupSnapshot.isBuildingSnapshot()) return;
	process.env = real;
	for (const restore of originals) restore();
	const wrong = [...read].filter(name => !HARMLESS.test(name));
	if (wrong.length > 0)
		throw new Error(
			`modules read ${wrong.join(', ')} as they loaded: read it where it is used (the startup snapshot would keep the build's value)`,
		);
}
