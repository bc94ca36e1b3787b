// Bundles the command line into dist/bundle/ for a fast start: one file for the commands, and
// the UI (React, Ink) in chunks loaded only when the UI opens. See bench/ui-pty.mjs for the effect.
import {execFileSync} from 'node:child_process';
import {readFileSync, realpathSync, rmSync, statSync, writeFileSync} from 'node:fs';
import {build} from 'esbuild';
import {fasterStyledChars} from './ansi-tokenize-patch.mjs';
import {loadedTooEarly} from './first-frame.mjs';
import {writeRegistry} from './command-registry.mjs';

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
			if (!source.includes(wrong))
				throw new Error(
					`${path} changed: check whether Ink fixed its incremental cursor (see scripts/bundle.mjs), then update or drop this fix`,
				);
			return {
				contents: source.replace(
					wrong,
					"buffer.push(ansiEscapes.cursorUp(previousVisible - (previousOutput.endsWith('\\n') ? 0 : 1)));",
				),
				loader: 'js',
			};
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
			/[\\/]zod[\\/]v4[\\/](classic|core)[\\/]/.test(importer)
				? {path: 'zod-locales-english', namespace: 'zod-english-only'}
				: undefined,
		);
		build.onLoad({filter: /.*/, namespace: 'zod-english-only'}, () => ({
			contents: "export {default as en} from 'zod/v4/locales/en.js';",
			loader: 'js',
			resolveDir: process.cwd(),
		}));
	},
};

/** What both builds share: Node 20, and React's production build (see the bundle's define). */
const common = {
	bundle: true,
	platform: 'node',
	target: 'node20',
	logLevel: 'warning',
	// React's production build: its development build logs every component render through
	// performance.measure and checks props, which cost CPU on every frame (seen in --cpu-prof).
	define: {'process.env.DEV': '"false"', 'process.env.NODE_ENV': '"production"'},
};

// The command registry from the folder's NAME-command.ts files: a new command is bundled without a
// line written for it anywhere else.
writeRegistry();

// Chunk names carry content hashes: clear old ones so dist/ holds exactly one build.
rmSync('dist/bundle', {recursive: true, force: true});
rmSync('dist/snapshot', {recursive: true, force: true});

const bundle = await build({
	// The benchmarks drive the adapters directly, from the same bundle build.
	entryPoints: {snapdeck: 'source/cli/entry.ts', 'libvirt-bench': 'source/adapters/libvirt/libvirt-hypervisor.ts'},
	outdir: 'dist/bundle',
	...common,
	splitting: true,
	format: 'esm',
	sourcemap: true,
	plugins: [inkCursorFix, fasterStyledChars, zodEnglishOnly],
	// Ink imports react-devtools-core only when DEV is set; it is not installed. is-in-ci: see there.
	alias: {'react-devtools-core': './scripts/empty-module.js', 'is-in-ci': './scripts/not-ci.js'},
	// CommonJS packages (React) call require(); give the ES module bundle one.
	banner: {
		js: "import {createRequire as __snapdeckRequire} from 'node:module'; const require = __snapdeckRequire(import.meta.url);",
	},
	metafile: true,
});
const early = loadedTooEarly(bundle.metafile);
if (early.length > 0)
	throw new Error(
		`the UI loads these before its first frame (scripts/first-frame.mjs): ${early.join(', ')}; import them where they are used, after the first frame`,
	);

/**
 * The startup snapshot (Node's --build-snapshot): the commands' code loaded and initialised once,
 * here, and saved with the heap; bin/snapdeck starts from it, which halves what Node spends before
 * a command's own work (compiling ~1 MB of code, building zod's schemas, the garbage they leave:
 * bench/startup.mjs). It holds one CommonJS file, minified (the snapshot's size is start time),
 * without the UI: open-ui.ts is replaced by a module that runs the bundle for it. The blob only fits
 * the node binary that made it: bin/snapdeck checks that binary's size and time, stored beside it
 * with the blob's own size.
 */
await buildSnapshot();

async function buildSnapshot() {
	await build({
		entryPoints: {cli: 'source/cli/snapshot-entry.ts'},
		outdir: 'dist/snapshot',
		outExtension: {'.js': '.cjs'},
		...common,
		format: 'cjs',
		minify: true,
		plugins: [
			zodEnglishOnly,
			{
				name: 'ui-from-the-bundle',
				setup(build) {
					build.onResolve({filter: /[\\/]open-ui\.js$/}, () => ({
						path: realpathSync('source/cli/open-ui-elsewhere.ts'),
					}));
				},
			},
		],
	});
	// A process started from a snapshot has no import(): a dynamic import of something outside the
	// file (a Node module) would fail there at run time, so the build fails instead.
	const dynamic = readFileSync('dist/snapshot/cli.cjs', 'utf8').match(/\bimport\((["'`])[^"'`]*\1\)/g);
	if (dynamic)
		throw new Error(
			`the snapshot's code has ${dynamic.join(', ')}: a snapshot cannot import(); use process.getBuiltinModule for Node's modules`,
		);
	// Its output to a file: a pipe would be a handle in the heap, which a snapshot cannot hold.
	const log = 'dist/snapshot/build.log';
	try {
		execFileSync(
			'sh',
			[
				'-c',
				'exec "$0" --snapshot-blob dist/snapshot/cli.blob --build-snapshot dist/snapshot/cli.cjs >"$1" 2>&1',
				process.execPath,
				log,
			],
			{stdio: 'ignore'},
		);
	} catch {
		throw new Error(
			`building the startup snapshot failed:\n${readFileSync(log, 'utf8')
				.split('\n')
				.filter(
					line =>
						!/^\(node:\d+\) Warning: It's not yet fully verified|^It may still work|^To request support|^\(Use `node --trace-warnings/.test(
							line,
						),
				)
				.join('\n')}`,
		);
	}
	rmSync(log);
	const node = statSync(realpathSync(process.execPath));
	// And the blob's size: node crashes on one cut short, so bin/snapdeck starts only the whole one.
	writeFileSync(
		'dist/snapshot/node',
		`${node.size} ${Math.floor(node.mtimeMs / 1000)} ${statSync('dist/snapshot/cli.blob').size}\n`,
	);
}
