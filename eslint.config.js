// The linter CI runs (npm run lint): typescript-eslint's recommended rules and React's rules of
// hooks, on the sources and the tests. The layering of DESIGN.md is checked beside it by
// scripts/check-layers.mjs.
import reactHooks from 'eslint-plugin-react-hooks';
import tseslint from 'typescript-eslint';

export default tseslint.config(
	{ignores: ['dist/**', 'node_modules/**', 'bench/**', 'scripts/**']},
	...tseslint.configs.recommended,
	{
		files: ['source/**/*.{ts,tsx}', 'test/**/*.{ts,tsx}'],
		plugins: {'react-hooks': reactHooks},
		rules: {
			'react-hooks/rules-of-hooks': 'error',
			'react-hooks/exhaustive-deps': 'error',
		},
	},
	{
		// A command's text reaches the terminal through print() and note() (cli/support.ts), which pass
		// it through the one sanitizer (core/terminal-text.ts): never written raw.
		files: ['source/cli/commands/**/*.ts'],
		rules: {
			'no-restricted-syntax': ['error', {
				selector: "MemberExpression[object.object.name='process'][object.property.name=/^(stdout|stderr)$/][property.name='write']",
				message: 'write text with print(), note() or printJson() (cli/support.ts): text passes the terminal sanitizer there',
			}],
		},
	},
	{
		// Text reaches the screen through the UI's own Text (ui/components/text.tsx), which passes every
		// string through the one sanitizer (core/terminal-text.ts): Ink's Text would write it raw.
		files: ['source/**/*.{ts,tsx}'],
		ignores: ['source/ui/components/text.tsx'],
		rules: {
			'no-restricted-imports': ['error', {paths: [{name: 'ink', importNames: ['Text'], message: "use Text from source/ui/components/text.tsx: it shows control characters in text from outside escaped"}]}],
		},
	},
	{
		// A function one can read at once: past 80 lines, its comments counted, split it (step
		// handlers, hooks, helpers over a context). Tests are exempt: a scenario reads best whole.
		files: ['source/**/*.{ts,tsx}'],
		rules: {
			'max-lines-per-function': ['error', {max: 80}],
		},
	},
	{
		// A file one can hold in mind: past 450 lines (as wc -l counts them), its parts go to
		// modules of their own.
		files: ['source/**/*.{ts,tsx}'],
		rules: {
			'max-lines': ['error', {max: 450}],
		},
	},
);
