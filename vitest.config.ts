import {defineConfig} from 'vitest/config';

export default defineConfig({
	test: {
		include: ['test/**/*.test.ts', 'test/**/*.test.tsx'],
		globalSetup: ['test/helpers/build.ts'],
		// The adapter tests run real qemu-img processes; two workers suit the 2-core CI machine.
		pool: 'forks',
		poolOptions: {forks: {maxForks: 2, minForks: 1}},
		// Colour escapes on even without a terminal, so the NO_COLOR test sees a difference.
		env: {FORCE_COLOR: '1'},
		testTimeout: 60_000,
		hookTimeout: 60_000,
	},
});
