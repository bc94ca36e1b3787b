import {execFileSync} from 'node:child_process';

/** The end-to-end tests drive bin/snapdeck.js, which runs dist/: build it once so it is never stale. */
export default function setup() {
	execFileSync(process.execPath, ['node_modules/typescript/bin/tsc', '-p', 'tsconfig.build.json'], {stdio: 'inherit'});
}
