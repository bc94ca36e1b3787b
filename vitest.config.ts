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
/** The restic the system tier's snapdeck runs: the real one, its new repositories' keys made cheap to open (test/helpers/restic-shim.ts). */
export const RESTIC_SHIM_DIR = path.join(os.tmpdir(), `snapdeck-test-restic-shim-${process.pid}`);
/** The unit tier's PATH: links to every command on the caller's PATH but the system tools (test/helpers/unit-setup.ts). */
export const UNIT_PATH = path.join(os.tmpdir(), `snapdeck-test-unit-path-${process.pid}`);

/**
 * The unit tier (`npm run test:unit`): the test files that need no QEMU, libvirt, restic, rclone
 * or libguestfs, and run with none of them on PATH. UI and service tests here run on the in-memory
 * hypervisor, and command-line tests run the command line in-process on it (test/helpers/memory-cli.ts);
 * test/contract/ holds it to what the real adapters do. Everything else is the system tier.
 * `npm test` runs both, each file once.
 */
export const UNIT_TESTS = [
	'test/unit-tier.test.ts',
	'test/core/**/*.test.ts',
	'test/golden/**/*.test.ts',
	'test/contract/memory.test.ts',
	'test/service/session-ports.test.ts',
	'test/jobs/**/*.test.ts',
	'test/config/**/*.test.ts',
	'test/scripts/**/*.test.ts',
	'test/monitoring/**/*.test.ts',
	'test/cli/{bad-connection,changing-commands,command-specs,health-rules,hints,launcher,readme,refused-input,sessions,typos}.test.ts',
	'test/ui/{message-rows,pager,text-edit}.test.ts',
	'test/ui/{app,files-browsing,health-list,hostile-text,journal-schedule,keys,plan-pager,rendering,screens,small-terminal,starting,switch-connection,take-dialog}.test.tsx',
	'test/adapters/{libvirt-xml-parse,guestfs-lines,guestfs-scratch,guestfs-session,guestfs-word,lock,qmp-jobs,restic-sftp,unpack-data,work-folder,xml-file}.test.ts',
	'test/backup/{hashing,offsite-record}.test.ts',
];

/**
 * Each test file's hooks (the helpers' clean-ups, test/helpers/cleanup.ts), its own environment,
 * and modules loaded afresh for a file that mocks one. The workers run test files one after
 * another with the modules loaded once (isolate: false): a file in a process of its own paid a
 * Node start and every import again. The unit tier took 138 s of CPU isolated and 82 s not (97 s
 * and 58 s of wall time); a whole run keeps both cores of the CI machine busy throughout, so CPU
 * saved is time saved.
 */
const PER_FILE = 'test/helpers/per-file.ts';

// Node reads the bundle NODE_EXTRA_CA_CERTS names at every start, before any code runs: ~55 ms of
// a core where it names the system's 140 KB of certificates (this machine kind sets it), paid by
// each of the ~2,000 snapdeck processes of a run. No test speaks TLS, so the tests run without it.
delete process.env['NODE_EXTRA_CA_CERTS'];

const env = {FORCE_COLOR: '1', SNAPDECK_JOURNAL: TEST_JOURNAL, SNAPDECK_CONFIG_DIR: TEST_CONFIG_DIR, RESTIC_CACHE_DIR: TEST_RESTIC_CACHE};

export default defineConfig({
	test: {
		// No globalSetup here: vitest runs the root's even for `--project unit` (the projects below hold them).
		// The longest files first (test/durations.json), so both workers finish together.
		sequence: {sequencer: LongestFirst},
		// Four workers on the 2-core CI machine: much of a test's time is waiting (a guest's boot, a
		// restic round trip, a killed job's recover), so more than two keep both cores busy. Whole
		// fresh-clone CI runs on a quiet machine: 1116 s with three, 1036 s with four.
		pool: 'forks',
		// As many kept as run: a worker the pool stops as idle while the files of a tier are still
		// being handed out takes the next file with it ("Terminating worker thread"), not run.
		poolOptions: {forks: {maxForks: 4, minForks: 4, isolate: false}},
		// Colour escapes on even without a terminal, so the NO_COLOR test sees a difference.
		env,
		// A bound on a hung test, not a speed limit: a test that kills and recovers a job at each of its
		// steps takes a minute on a quiet 2-core machine and more beside a busy one.
		testTimeout: 180_000,
		hookTimeout: 120_000,
		projects: [
			{extends: true, test: {name: 'unit', include: UNIT_TESTS, setupFiles: [PER_FILE], globalSetup: ['test/helpers/unit-setup.ts'], env: {...env, PATH: UNIT_PATH}}},
			// The end-to-end tests drive bin/snapdeck, which runs the bundle: test/helpers/build.ts builds it first.
			{extends: true, test: {name: 'system', include: ['test/**/*.test.ts', 'test/**/*.test.tsx'], exclude: UNIT_TESTS, setupFiles: [PER_FILE], globalSetup: ['test/helpers/build.ts'], env: {...env, SNAPDECK_RESTIC: path.join(RESTIC_SHIM_DIR, 'restic')}}},
		],
	},
});
