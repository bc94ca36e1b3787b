import path from 'node:path';
import os from 'node:os';
import {userDir} from '../core/user-dirs.js';
import {dropExitHooks} from './exit-hooks.js';
import Conf from 'conf';
import {Cron} from 'croner';
import {z} from 'zod';
import {errorMessage, SnapdeckError} from '../core/errors.js';
import {Notifier} from '../core/notifications.js';
import {checkOutsideJson, shapeProblem} from '../core/outside-json.js';
import {OffsiteTarget} from '../core/offsite-model.js';
import {Policy} from '../core/policy.js';

const cronProblem = (expression: string): string | null => {
	try {
		new Cron(expression, {paused: true});
		return null;
	} catch (error) {
		// croner quotes the expression back; the key names it, and the file's values are not echoed.
		return errorMessage(error).replace(/ \('[^]*'\)/, '');
	}
};

dropExitHooks();

/** The configuration file, validated with zod on load. */
export const ConfigSchema = z.strictObject({
	/** The JSON schema this file follows (for editors); see schema/config.schema.json. */
	$schema: z.string().optional(),
	/** Connections by name: `--connect NAME` and policies may use the name. */
	connections: z.record(z.string(), z.string().min(1)).optional(),
	/** Backup repositories by name, for policies. */
	repositories: z.record(z.string(), z.string().min(1)).optional(),
	/** Off-site targets (restic repositories) by name: 'snapdeck copy VM --target NAME', and policies' "offsite". */
	offsite: z
		.record(
			z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/, {message: 'a target name is letters, digits, ".", "_" and "-"'}),
			OffsiteTarget.superRefine((target, context) => {
				const problem = target.schedule === undefined ? null : cronProblem(target.schedule);
				if (problem)
					context.addIssue({code: 'custom', path: ['schedule'], message: `not a cron expression: ${problem}`});
			}),
		)
		.optional(),
	/** What to keep, check and schedule, for the VMs each one selects; the first that matches applies. */
	policies: z
		.array(
			Policy.superRefine((policy, context) => {
				for (const [kind, schedule] of [
					['snapshots', policy.snapshots.schedule],
					['backups', policy.backups.schedule],
					['offsite', policy.offsite?.schedule],
				] as const) {
					const problem = schedule === undefined ? null : cronProblem(schedule);
					if (problem)
						context.addIssue({code: 'custom', path: [kind, 'schedule'], message: `not a cron expression: ${problem}`});
				}
			}),
		)
		.optional(),
	/** The connection used when neither --connect nor SNAPDECK_CONNECT names one. */
	defaultConnection: z.union([z.string().min(1), z.array(z.string().min(1)).min(1)]).optional(),
	/** The backup repository used when neither --repo nor SNAPDECK_REPO names one. */
	repository: z.string().min(1).optional(),
	/** Who is told of failed scheduled jobs and of VMs whose health gets worse or recovers: webhooks, ntfy topics, commands. */
	notify: z.array(Notifier).optional(),
	/** Key overrides: command name -> key specs, e.g. {"take": ["s"]}. */
	keymap: z.record(z.string(), z.array(z.string())).optional(),
});
export type Config = z.infer<typeof ConfigSchema>;

/** The JSON schema of the configuration file, for editors (published as schema/config.schema.json). */
export const configJsonSchema = () => z.toJSONSchema(ConfigSchema, {io: 'input'});

export interface LoadedConfig {
	readonly config: Config;
	readonly path: string;
}

/** Where the configuration file is, whether or not it exists or reads: ~/.config/snapdeck/config.json (SNAPDECK_CONFIG_DIR overrides the folder). */
export function configFilePath(): string {
	return path.join(configDir(), 'config.json');
}

/** The configuration's folder, read at each call (see core/user-dirs.ts): SNAPDECK_CONFIG_DIR, else ~/.config/snapdeck. */
function configDir(): string {
	return process.env['SNAPDECK_CONFIG_DIR'] || userDir('config', process.env, os.homedir());
}

/** Reads ~/.config/snapdeck/config.json (SNAPDECK_CONFIG_DIR overrides the folder). */
export function loadConfig(): LoadedConfig {
	let store: Conf<Record<string, unknown>>;
	try {
		store = new Conf({projectName: 'snapdeck', projectSuffix: '', cwd: configDir(), configName: 'config'});
	} catch (error) {
		// Conf passes on JSON.parse's words, which quote the file's first bytes.
		if (error instanceof SyntaxError) throw notConfiguration(configFilePath())('it is not JSON');
		throw new SnapdeckError(
			'input',
			`the configuration file cannot be read: ${errorMessage(error)}`,
			'fix or remove the file',
		);
	}
	return {config: validateConfig(store.store, store.path), path: store.path};
}

/** A configuration may hold credentials (a notifier's token, a target's password): what is wrong with one is said without its content. */
export const notConfiguration = (file: string) => (why: string) =>
	new SnapdeckError(
		'input',
		`${file} is not a valid snapdeck configuration: ${why}`,
		`fix it there ('snapdeck config schema' lists every key a configuration may have)`,
	);

/** Validates a configuration; the error names the file and where in it the first wrong value is. */
export function validateConfig(value: unknown, file: string): Config {
	const parsed = ConfigSchema.safeParse(value);
	if (!parsed.success) throw notConfiguration(file)(shapeProblem(parsed.error, 'a configuration'));
	return parsed.data;
}

/** Validates a configuration file's text (`config validate FILE`). */
export const validateConfigText = (text: string, file: string): Config =>
	checkOutsideJson(text, ConfigSchema, 'a configuration', notConfiguration(file));

/** A configuration is a few KiB; a file many times that is something else. */
export const CONFIG_MAX_BYTES = 1024 * 1024;
