import os from 'node:os';
import path from 'node:path';
import {defineConfig} from 'vitest/config';
import LongestFirst from './test/helpers/sequencer.js';

/** Tests journal here, never into the user's own journal; removed after the run (test/helpers/build.ts). */
export const TEST_JOURNAL = path.join(os.tmpdir(), `snapdeck-test-journal-${process.pid}.jsonl`);
/** And read an empty configuration there, never the user's own (whose policies or keys would change what tests see). */
export const TEST_CONFIG_DIR = path.join(os.tmpdir(), `snapdeck-test-config-${process.pid}`);
/** restic's cache of the off-site tests' repositories, there and not in ~/.cache/restic; removed after the run. */
export const TEST_RESTIC_CACHE = path.join(os.tmpdir(), `snapdeck-test-restic-cache-${process.pid}`);

export default defineConfig({
	test: {
		include: ['test/**/*.test.ts', 'test/**/*.test.tsx'],
		globalSetup: ['test/helpers/build.ts'],
		// The longest files first (test/durations.json), so both workers finish together.
		sequence: {sequencer: LongestFirst},
		// Three workers on the 2-core CI machine: much of a test's time is waiting (a guest's boot, a
		// restic round trip, a killed job's recover), so a third keeps both cores busy.
		pool: 'forks',
		poolOptions: {forks: {maxForks: 3, minForks: 1}},
		// Colour escapes on even without a terminal, so the NO_COLOR test sees a difference.
		env: {FORCE_COLOR: '1', SNAPDECK_JOURNAL: TEST_JOURNAL, SNAPDECK_CONFIG_DIR: TEST_CONFIG_DIR, RESTIC_CACHE_DIR: TEST_RESTIC_CACHE},
		// A bound on a hung test, not a speed limit: a test that kills and recovers a job at each of its
		// steps takes a minute on a quiet 2-core machine and more beside a busy one.
		testTimeout: 180_000,
		hookTimeout: 120_000,
	},
});
