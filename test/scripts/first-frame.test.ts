import {readFile} from 'node:fs/promises';
import {build, type Plugin} from 'esbuild';
import {describe, expect, it} from 'vitest';
// @ts-expect-error: a plain script of the build, without types
import {firstFrameInputs, loadedTooEarly} from '../../scripts/first-frame.mjs';

/** The UI's module graph as scripts/bundle.mjs splits it (chunks, ES modules), not written. */
async function metafile(plugins: Plugin[] = []) {
	const result = await build({
		entryPoints: ['source/ui/run.tsx'],
		bundle: true,
		splitting: true,
		format: 'esm',
		platform: 'node',
		target: 'node20',
		outdir: 'dist/first-frame-test',
		write: false,
		metafile: true,
		logLevel: 'silent',
		plugins,
		alias: {'react-devtools-core': './scripts/empty-module.js', 'is-in-ci': './scripts/not-ci.js'},
	});
	return result.metafile;
}

/** A plugin that adds `line` to the source file whose path ends with `file`. */
const appending = (file: string, line: string): Plugin => ({
	name: 'append',
	setup(builder) {
		builder.onLoad({filter: new RegExp(`${file.replaceAll('.', '\\.')}$`)}, async ({path}) => ({
			contents: `${await readFile(path, 'utf8')}\n${line}\n`,
			loader: 'tsx',
		}));
	},
});

describe('what the UI loads before its first frame (scripts/first-frame.mjs, checked by every build)', () => {
	it('is Ink, React and the UI: not zod, the configuration, the service or the adapters', async () => {
		const meta = await metafile();
		const inputs: string[] = firstFrameInputs(meta);
		expect(inputs.some(input => /node_modules\/ink\//.test(input))).toBe(true);
		expect(inputs).toContain('source/ui/app.tsx');
		expect(loadedTooEarly(meta)).toEqual([]);
	});

	it('names what a static import from the UI pulls in front of the first frame', async () => {
		const meta = await metafile([
			appending('source/ui/theme.ts', "export {OffsiteState} from '../core/offsite-model.js';"),
		]);
		expect(loadedTooEarly(meta)).toEqual(['zod']);
	});

	it('leaves out what the UI imports dynamically', async () => {
		const meta = await metafile([
			appending('source/ui/theme.ts', "export const later = () => import('../core/offsite-model.js');"),
		]);
		expect(loadedTooEarly(meta)).toEqual([]);
	});
});
