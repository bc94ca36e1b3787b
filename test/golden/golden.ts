import {existsSync} from 'node:fs';
import {mkdir, readFile, writeFile} from 'node:fs/promises';
import path from 'node:path';
import {expect} from 'vitest';

/**
 * Golden files: what a plan, a retention decision or a health finding renders as, checked in
 * under test/golden/ and compared whole, so a change in the words or the steps shows in review as
 * a diff of that file. After a change meant to alter them, write them afresh and read the diff:
 *
 *   UPDATE_GOLDEN=1 npx vitest run --project unit test/golden
 */
export const GOLDEN_DIR = path.resolve('test/golden');

/** Whether this run writes the golden files instead of comparing with them. */
export const updating = () => process.env['UPDATE_GOLDEN'] === '1';

/** `actual` compared with the golden file `name` (under test/golden/), or written there in update mode. */
export async function expectGolden(name: string, actual: string, dir = GOLDEN_DIR): Promise<void> {
	const file = path.join(dir, name);
	const text = actual.endsWith('\n') ? actual : `${actual}\n`;
	if (updating()) {
		await mkdir(path.dirname(file), {recursive: true});
		await writeFile(file, text);
		return;
	}
	if (!existsSync(file))
		throw new Error(
			`no golden file ${path.relative(process.cwd(), file)}: write it with UPDATE_GOLDEN=1 (see test/golden/golden.ts)`,
		);
	// A string compared whole: vitest prints the lines that differ, expected (the file) against received.
	expect(text, `${path.relative(process.cwd(), file)} (UPDATE_GOLDEN=1 rewrites it; read its diff)`).toBe(
		await readFile(file, 'utf8'),
	);
}

/** JSON as a golden file holds it: two-space indents, a line per field. */
export const goldenJson = (value: unknown) => JSON.stringify(value, null, 2);
