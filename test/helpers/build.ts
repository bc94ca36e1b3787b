import {execFileSync} from 'node:child_process';
import {rmSync} from 'node:fs';
import {RESTIC_SHIM_DIR, TEST_CONFIG_DIR, TEST_JOURNAL, TEST_RESTIC_CACHE} from '../../vitest.config.js';
import {installResticShim} from './restic-shim.js';

const BUILT = Symbol.for('snapdeck.test.bundle-built');

/**
 * The tests that drive bin/snapdeck run the bundle and the startup snapshot: build it so it is never stale. Both tiers'
 * global setups call this; in one run (`npm test`) it builds once.
 */
export function buildBundle(): void {
	const state = globalThis as {[BUILT]?: boolean};
	if (state[BUILT]) return;
	execFileSync(process.execPath, ['scripts/bundle.mjs'], {stdio: 'inherit'});
	state[BUILT] = true;
}

/** The system tier's global setup. */
export default function setup() {
	buildBundle();
	installResticShim(RESTIC_SHIM_DIR);
	return cleanUp;
}

/** Removes what the tests' journal, configuration and restic cache left (both tiers, after the run). */
export function cleanUp() {
	rmSync(TEST_JOURNAL, {force: true});
	rmSync(`${TEST_JOURNAL}.repositories.json`, {force: true}); // source/backup/checkpoints.ts
	rmSync(TEST_JOURNAL.replace(/\.jsonl$/, '.notified'), {recursive: true, force: true}); // source/service/deliver-notifications.ts
	rmSync(TEST_JOURNAL.replace(/\.jsonl$/, '.schedule.json'), {force: true}); // source/service/schedule-state.ts
	rmSync(TEST_CONFIG_DIR, {recursive: true, force: true});
	rmSync(TEST_RESTIC_CACHE, {recursive: true, force: true});
	rmSync(RESTIC_SHIM_DIR, {recursive: true, force: true});
}
