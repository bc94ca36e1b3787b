import {ESLint} from 'eslint';
import {execa} from 'execa';
import {describe, expect, it} from 'vitest';

/** ESLint on `code` as if it were the file `name` of the project, with the project's config. */
const lint = (name: string, code: string) =>
	execa('npx', ['eslint', '--stdin', '--stdin-filename', name], {input: code, reject: false});

describe('the linter (eslint.config.js, run by npm test and npm run lint)', () => {
	// npm test lints here, inside the suite, rather than before it: its half-minute on one core
	// then overlaps the tests that wait on a guest or a child process.
	it('finds nothing in source/ and test/', async () => {
		const eslint = new ESLint();
		const problems = (await eslint.lintFiles(['source', 'test'])).filter(
			result => result.errorCount + result.warningCount > 0,
		);
		expect(problems.length, String(await (await eslint.loadFormatter('stylish')).format(problems))).toBe(0);
	}, 300_000);

	it('fails on a hook called conditionally and on an effect that misses what it reads; passes on the same code written right', async () => {
		const wrong = `import {useEffect, useState} from 'react';
export function Counter({start, on}: {start: number; on: boolean}) {
	if (on) {
		const [count] = useState(start);
		return count;
	}
	useEffect(() => console.log(start), []);
	return 0;
}
`;
		const failed = await lint('source/ui/components/counter.tsx', wrong);
		expect(failed.exitCode).toBe(1);
		expect(failed.stdout).toContain('react-hooks/rules-of-hooks');
		expect(failed.stdout).toContain('react-hooks/exhaustive-deps');
		const right = `import {useEffect, useState} from 'react';
export function Counter({start, on}: {start: number; on: boolean}) {
	const [count] = useState(start);
	useEffect(() => console.log(start), [start]);
	return on ? count : 0;
}
`;
		const passed = await lint('source/ui/components/counter.tsx', right);
		expect(passed.exitCode, passed.stdout).toBe(0);
	});

	it("fails on Ink's Text imported anywhere but the UI's own Text, which sanitizes what it shows", async () => {
		const raw =
			"import {Box, Text} from 'ink';\nexport const Name = ({name}: {name: string}) => <Box><Text>{name}</Text></Box>;\n";
		const failed = await lint('source/ui/components/name.tsx', raw);
		expect(failed.exitCode).toBe(1);
		expect(failed.stdout).toContain('no-restricted-imports');
		const safe =
			"import {Box} from 'ink';\nimport {Text} from './text.js';\nexport const Name = ({name}: {name: string}) => <Box><Text>{name}</Text></Box>;\n";
		const passed = await lint('source/ui/components/name.tsx', safe);
		expect(passed.exitCode, passed.stdout).toBe(0);
	});
});
