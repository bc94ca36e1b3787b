// Bundles the command line into dist/bundle/ for a fast start: one file for the commands, and
// the UI (React, Ink) in chunks loaded only when the UI opens. See bench/ui-pty.mjs for the effect.
import {readFileSync, rmSync} from 'node:fs';
import {build} from 'esbuild';

/**
 * Ink 6.8's incremental renderer moves the cursor up one row too few when the previous frame ended
 * with a newline (every frame shorter than the terminal, which ours is, one row short, to avoid a
 * full repaint per frame). Each update then lands one row low, the last newline scrolls the screen,
 * and the lines it skipped as unchanged show their neighbours' old text. Seen in tmux, tested by
 * test/e2e/pty.test.ts. The fix: move up over the trailing newline's row too.
 */
const inkCursorFix = {
	name: 'ink-incremental-cursor-fix',
	setup(build) {
		build.onLoad({filter: /[\\/]ink[\\/]build[\\/]log-update\.js$/}, ({path}) => {
			const source = readFileSync(path, 'utf8');
			const wrong = 'buffer.push(ansiEscapes.cursorUp(previousVisible - 1));';
			if (!source.includes(wrong)) throw new Error(`${path} changed: check whether Ink fixed its incremental cursor (see scripts/bundle.mjs), then update or drop this fix`);
			return {contents: source.replace(wrong, "buffer.push(ansiEscapes.cursorUp(previousVisible - (previousOutput.endsWith('\\n') ? 0 : 1)));"), loader: 'js'};
		});
	},
};

/**
 * zod's `z` namespace re-exports every locale (`z.locales`, 64 modules, half of zod's 770 KB in the
 * bundle) though snapdeck speaks English only, and zod sets English itself: every command paid for
 * parsing them at start (seen in --cpu-prof of `snapdeck snapshot`). Only English stays.
 */
const zodEnglishOnly = {
	name: 'zod-english-only',
	setup(build) {
		build.onResolve({filter: /^\.\.\/locales\/index\.js$/}, ({importer}) =>
			/[\\/]zod[\\/]v4[\\/](classic|core)[\\/]/.test(importer) ? {path: 'zod-locales-english', namespace: 'zod-english-only'} : undefined);
		build.onLoad({filter: /.*/, namespace: 'zod-english-only'}, () => ({
			contents: "export {default as en} from 'zod/v4/locales/en.js';", loader: 'js', resolveDir: process.cwd(),
		}));
	},
};

// Chunk names carry content hashes: clear old ones so dist/ holds exactly one build.
rmSync('dist/bundle', {recursive: true, force: true});

await build({
	// The benchmarks drive the adapters directly, from the same bundle build.
	entryPoints: {snapdeck: 'source/cli/main.ts', 'libvirt-bench': 'source/adapters/libvirt/libvirt-hypervisor.ts'},
	outdir: 'dist/bundle',
	bundle: true,
	splitting: true,
	format: 'esm',
	platform: 'node',
	target: 'node20',
	sourcemap: true,
	logLevel: 'warning',
	plugins: [inkCursorFix, zodEnglishOnly],
	// Ink imports react-devtools-core only when DEV is set; it is not installed. is-in-ci: see there.
	alias: {'react-devtools-core': './scripts/empty-module.js', 'is-in-ci': './scripts/not-ci.js'},
	// React's production build: its development build logs every component render through
	// performance.measure and checks props, which cost CPU on every frame (seen in --cpu-prof).
	define: {'process.env.DEV': '"false"', 'process.env.NODE_ENV': '"production"'},
	// CommonJS packages (React) call require(); give the ES module bundle one.
	banner: {js: "import {createRequire as __snapdeckRequire} from 'node:module'; const require = __snapdeckRequire(import.meta.url);"},
});
