import {chmodSync, mkdirSync, writeFileSync} from 'node:fs';
import path from 'node:path';
import {buildSync} from 'esbuild';

/**
 * The restic the system tier's snapdeck runs (SNAPDECK_RESTIC): the real restic, with one change.
 * After a `restic init` that succeeded on a folder of this machine, the new repository's key is
 * rewritten with cheap scrypt parameters (test/helpers/restic-key.ts, as restic's own tests lower
 * them): every later restic command on it then opens it in a millisecond rather than half a
 * second of CPU, which over the few hundred such commands of the suite is minutes on two cores.
 * Every other call is the real restic exec'ed in place (same process, signals and exit code);
 * the init itself, its output and its exit code are restic's own.
 */
export function installResticShim(folder: string): string {
	mkdirSync(folder, {recursive: true});
	const cheapen = path.join(folder, 'cheapen-keys.mjs');
	buildSync({
		stdin: {
			contents: "import {main} from './restic-cheap-keys.ts'; await main(process.argv.slice(2), process.env);",
			resolveDir: import.meta.dirname,
			loader: 'ts',
		},
		bundle: true,
		platform: 'node',
		format: 'esm',
		target: 'node20',
		outfile: cheapen,
		logLevel: 'warning',
	});
	const shim = path.join(folder, 'restic');
	writeFileSync(
		shim,
		`#!/bin/sh
# snapdeck's tests: the real restic; after an init, the new key made cheap (test/helpers/restic-shim.ts).
init=
for arg in "$@"; do [ "$arg" = init ] && init=1; done
[ -n "$init" ] || exec restic "$@"
restic "$@" || exit $?
exec ${JSON.stringify(process.execPath)} ${JSON.stringify(cheapen)} "$@"
`,
	);
	chmodSync(shim, 0o755);
	return shim;
}
