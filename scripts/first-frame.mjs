// What the UI loads before its first frame, from esbuild's metafile of the bundle (scripts/bundle.mjs):
// the chunk that holds source/ui/run.tsx and every chunk it imports statically. The first frame
// is drawn before the configuration, the service and the adapters load (source/cli/open-ui.ts);
// a static import that reaches them from the UI's modules (a core module that imports zod for a
// helper, say) moves their whole load in front of it, unnoticed by any test but this check:
// zod's chunk alone took the first frame from ~180 to ~250 ms (bench/ui-pty.mjs).

/** Packages and folders of ours that must load after the first frame, not before it. */
const AFTER_FIRST_FRAME = [
	/node_modules\/(zod|conf|execa|fast-xml-parser|croner|tar-stream|ajv)\//,
	/^source\/(service|adapters|backup|config|jobs)\//,
];

/** The inputs (source files, package files) the UI loads before its first frame. */
export function firstFrameInputs(metafile, entry = 'source/ui/run.tsx') {
	const outputs = Object.entries(metafile.outputs);
	const start = outputs.find(([, output]) => entry in output.inputs);
	if (!start) throw new Error(`no output of the bundle holds ${entry}`);
	const seen = new Set();
	const inputs = new Set();
	const visit = file => {
		if (seen.has(file)) return;
		seen.add(file);
		const output = metafile.outputs[file];
		for (const input of Object.keys(output.inputs)) inputs.add(input);
		for (const imported of output.imports)
			if (imported.kind === 'import-statement' && !imported.external) visit(imported.path);
	};
	visit(start[0]);
	return [...inputs];
}

/** What loads before the first frame and should load after it (none when all is well): packages by name, our files by path. */
export function loadedTooEarly(metafile) {
	const early = firstFrameInputs(metafile).filter(input => AFTER_FIRST_FRAME.some(pattern => pattern.test(input)));
	return [...new Set(early.map(input => input.match(/node_modules\/([^/]+)\//)?.[1] ?? input))];
}
