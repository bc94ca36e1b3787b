import Conf from 'conf';
import {z} from 'zod';
import {SnapdeckError} from '../core/errors.js';

/** The configuration file, validated with zod on load. */
export const ConfigSchema = z.strictObject({
	/** The connection used when neither --connect nor SNAPDECK_CONNECT names one. */
	defaultConnection: z.string().min(1).optional(),
	/** The backup repository used when neither --repo nor SNAPDECK_REPO names one. */
	repository: z.string().min(1).optional(),
	/** Key overrides: command name -> key specs, e.g. {"take": ["s"]}. */
	keymap: z.record(z.string(), z.array(z.string())).optional(),
});
export type Config = z.infer<typeof ConfigSchema>;

export interface LoadedConfig {
	readonly config: Config;
	readonly path: string;
}

/** Reads ~/.config/snapdeck/config.json (SNAPDECK_CONFIG_DIR overrides the folder). */
export function loadConfig(): LoadedConfig {
	let store: Conf<Record<string, unknown>>;
	try {
		store = new Conf({projectName: 'snapdeck', projectSuffix: '', cwd: process.env['SNAPDECK_CONFIG_DIR'], configName: 'config'});
	} catch (error) {
		throw new SnapdeckError('input', `the configuration file cannot be read: ${(error as Error).message}`, 'fix or remove the file');
	}
	const parsed = ConfigSchema.safeParse(store.store);
	if (!parsed.success) {
		const issue = parsed.error.issues[0]!;
		const key = issue.path.join('.') || (issue.code === 'unrecognized_keys' ? issue.keys.join(', ') : '(top level)');
		throw new SnapdeckError('input', `${store.path}: ${key}: ${issue.message}`, `fix that key in ${store.path}`);
	}
	return {config: parsed.data, path: store.path};
}
