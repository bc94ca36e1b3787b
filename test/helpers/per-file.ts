import {readFileSync} from 'node:fs';
import {afterAll, afterEach, beforeAll, expect, vi} from 'vitest';
import {runAfterEachFile, runAfterEachTest} from './cleanup.js';

/*
 * Run before each test file (vitest.config.ts's setupFiles). A worker runs many test files with
 * their modules loaded once (isolate: false), so the helpers' clean-ups (test/helpers/cleanup.ts)
 * are hooked here, for every file. The environment and the working folder are each file's own:
 * what one file changed and did not put back is put back before the next.
 */
afterEach(runAfterEachTest);
afterAll(runAfterEachFile);

// A file that mocks a module (vi.mock: test/helpers/memory-cli.ts) needs the modules that import
// it loaded afresh, or the ones an earlier file loaded keep the real one; and the files after it
// get them afresh again, unmocked.
const testFile = expect.getState().testPath;
if (testFile !== undefined && /^vi\.mock\(/m.test(readFileSync(testFile, 'utf8'))) {
	vi.resetModules();
	afterAll(() => {
		vi.resetModules();
	});
}

let environment: NodeJS.ProcessEnv = {};
let folder = '';
beforeAll(() => {
	environment = {...process.env};
	folder = process.cwd();
});
afterAll(() => {
	for (const name of Object.keys(process.env)) if (!(name in environment)) delete process.env[name];
	Object.assign(process.env, environment);
	if (process.cwd() !== folder) process.chdir(folder);
});
