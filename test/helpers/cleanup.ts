/**
 * What the helpers tidy after each test and each test file, run by test/helpers/per-file.ts. The
 * workers run many test files with their modules loaded once (vitest.config.ts: isolate: false),
 * so a helper cannot register a vitest hook where it is first imported (it would hold for that
 * file alone): it registers its clean-up here, once, and every file runs it. The registry lives on
 * globalThis, where a setup file run again before each file finds the same one.
 */
interface Cleanup {
	/** Lower first: what runs in a test's folders (an app, a terminal, a guest, a QEMU) stops before the folders go. */
	readonly stage: number;
	readonly run: () => unknown;
}

const KEY = Symbol.for('snapdeck.test.cleanups');
const registry = ((globalThis as {[KEY]?: {each: Map<string, Cleanup>; file: Map<string, Cleanup>}})[KEY] ??= {
	each: new Map(),
	file: new Map(),
});

/** Runs `run` after each test from now on, at `stage` (0: stop what runs; 9: remove folders). */
export function afterEachTest(name: string, stage: number, run: () => unknown): void {
	registry.each.set(name, {stage, run});
}

/** Runs `run` after each test file from now on. */
export function afterEachFile(name: string, run: () => unknown): void {
	registry.file.set(name, {stage: 0, run});
}

const runAll = async (cleanups: Map<string, Cleanup>) => {
	for (const cleanup of [...cleanups.values()].sort((a, b) => a.stage - b.stage)) await cleanup.run();
};

export const runAfterEachTest = () => runAll(registry.each);
export const runAfterEachFile = () => runAll(registry.file);
