import {spawn} from 'node:child_process';
import os from 'node:os';

/**
 * openUi (open-ui.ts) in a process started from the startup snapshot (snapshot-entry.ts): the
 * snapshot holds no React or Ink (Ink's layout engine loads with a top-level await, which a snapshot
 * cannot hold), so the same command line runs again from the bundle (bin/snapdeck.js), which opens
 * the UI. bin/snapdeck sends interactive starts to the bundle itself; this serves the few it cannot
 * tell from its arguments. The build puts this module in open-ui.ts's place (scripts/bundle.mjs).
 */
export async function openUi(): Promise<number> {
	const [bundle, ...args] = process.argv.slice(1);
	if (bundle === undefined)
		throw new Error('the snapshot was started without the path of bin/snapdeck.js (see bin/snapdeck)');
	const child = spawn(process.execPath, [bundle, ...args], {stdio: 'inherit'});
	// A hang-up or a kill reaches this process, not the UI in the child: passed on.
	const forward = (signal: NodeJS.Signals) => child.kill(signal);
	for (const signal of ['SIGTERM', 'SIGHUP'] as const) process.on(signal, forward);
	return new Promise((resolve, reject) => {
		child.once('error', reject);
		child.once('exit', (code, signal) => resolve(code ?? 128 + (signal ? os.constants.signals[signal] : 0)));
	});
}
