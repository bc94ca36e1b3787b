import {afterEach} from 'vitest';

/** Puts the environment variables `names` back as they were before each test of the calling file. */
export function restoreEnvAfterEach(...names: string[]): void {
	const saved = new Map(names.map(name => [name, process.env[name]]));
	afterEach(() => {
		for (const [name, value] of saved) {
			if (value === undefined) delete process.env[name];
			else process.env[name] = value;
		}
	});
}
