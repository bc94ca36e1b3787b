// Bundles the command line into dist/bundle/ for a fast start: one file for the commands, and
// the UI (React, Ink) in chunks loaded only when the UI opens. See bench/ui-pty.mjs for the effect.
import {rmSync} from 'node:fs';
import {build} from 'esbuild';

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
	// Ink imports react-devtools-core only when DEV is set; it is not installed.
	alias: {'react-devtools-core': './scripts/empty-module.js'},
	define: {'process.env.DEV': '"false"'},
	// CommonJS packages (React) call require(); give the ES module bundle one.
	banner: {js: "import {createRequire as __snapdeckRequire} from 'node:module'; const require = __snapdeckRequire(import.meta.url);"},
});
