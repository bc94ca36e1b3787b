import v8 from 'node:v8';

/**
 * While the startup snapshot is built (snapshot-entry.ts imports this first): every environment
 * variable that snapdeck's modules or libraries read as they load is recorded, and the build fails
 * on one that changes what snapdeck does: a value read at load would be the build's in every later
 * run. Node's own reads (colours of its warnings) are not ours. Terminal and locale guesses of
 * libraries (TERM, LANG, CI...) and NODE_DEBUG (semver's debug log) are let through: no command
 * depends on them.
 */
const HARMLESS = /^(TERM|TERM_PROGRAM|COLORTERM|LANG|LC_\w+|CI|WT_SESSION|TERMINUS_SUBLIME|ConEmuTask|NODE_DEBUG)$/;

const real = process.env;
const read = new Set<string>();

if (v8.startupSnapshot.isBuildingSnapshot()) {
	process.env = new Proxy(real, {
		get(target, key) {
			// Who read it (however short a library set stack traces to be): Node's own code, or ours?
			const limit = Error.stackTraceLimit;
			Error.stackTraceLimit = 3;
			const reader = (new Error().stack ?? '').split('\n')[2] ?? '';
			Error.stackTraceLimit = limit;
			if (typeof key === 'string' && !/\(node:|at node:/.test(reader)) read.add(key);
			return Reflect.get(target, key);
		},
	});
}

/** After every module loaded: the environment as it was, or the build stops naming what was read. */
export function loaded(): void {
	if (!v8.startupSnapshot.isBuildingSnapshot()) return;
	process.env = real;
	const wrong = [...read].filter(name => !HARMLESS.test(name));
	if (wrong.length > 0) throw new Error(`modules read ${wrong.join(', ')} as they loaded: read it where it is used (the startup snapshot would keep the build's value)`);
}
