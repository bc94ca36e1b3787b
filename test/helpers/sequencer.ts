import {readFileSync} from 'node:fs';
import path from 'node:path';
import {BaseSequencer, type TestSpecification} from 'vitest/node';

/**
 * Runs the longest test files first, by the durations in test/durations.json (seconds per file,
 * from a full run: `npm run test:durations` rewrites it), so the two workers of a fresh CI clone
 * end together instead of one running a long file alone at the end. vitest's own order needs the
 * results of an earlier run on the same machine, which a fresh clone does not have. A file not in
 * the table runs among the middle ones.
 */
export default class LongestFirst extends BaseSequencer {
	override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
		let table: Record<string, number> = {};
		try {
			table = JSON.parse(readFileSync(path.resolve('test/durations.json'), 'utf8')) as Record<string, number>;
		} catch {
			return super.sort(files);
		}
		const known = Object.values(table).sort((a, b) => a - b);
		const middle = known[Math.floor(known.length / 2)] ?? 0;
		const seconds = (file: TestSpecification) => table[path.relative(process.cwd(), file.moduleId)] ?? middle;
		return [...files].sort((a, b) => seconds(b) - seconds(a));
	}
}
