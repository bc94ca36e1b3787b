import {lstat} from 'node:fs/promises';
import {SnapdeckError} from '../../core/errors.js';
import {maskCredentials, maskedNotifier} from '../../core/notifications.js';
import {DEFAULT_POLICY} from '../../core/policy.js';
import type {CliFlags} from '../flags.js';
import {connectionUris, print, printJson, repositoryDir, settingsModule, validateConfigFile} from '../support.js';
import {defineCommand} from '../command.js';

export default defineCommand({
	name: 'config',
	order: 240,
	summary: 'the configuration: path, show, validate or schema',
	description:
		'path: where it is; show: the settings in use, defaults and environment included, each with where it comes from; validate: checked (the one in use, or FILE); schema: its JSON schema.',
	args: [
		{
			key: 'what',
			kind: 'word',
			words: ['path', 'show', 'validate', 'schema'],
			help: 'what to say of the configuration',
		},
		{key: 'file', kind: 'path', optional: true, help: 'validate: the file to check instead of the one in use'},
	],
	examples: [
		{line: 'snapdeck config validate ./snapdeck.json', does: 'checks a configuration before it is put in place'},
	],
	flags: [],
	async run({args, flags}) {
		const {what, file} = args;
		if (file !== undefined && what !== 'validate')
			throw new SnapdeckError(
				'usage',
				`'snapdeck config ${what}' takes no FILE (only validate does)`,
				"see 'snapdeck help config'",
			);
		const {loadConfig, configJsonSchema} = await settingsModule();
		if (what === 'schema') return (printJson(configJsonSchema()), 0);
		if (what === 'validate' && file !== undefined) {
			await validateConfigFile(file);
			print(flags.json ? JSON.stringify({file, valid: true}) : `${file}: valid`);
			return 0;
		}
		const {config, path: configPath} = loadConfig();
		if (what === 'path') print(flags.json ? JSON.stringify({path: configPath}) : configPath);
		if (what === 'show') {
			const shown = await effectiveConfig(config, configPath, flags);
			if (flags.json) printJson(shown);
			else {
				print(
					shown.exists
						? `# the configuration in use: ${configPath}, with the defaults of what it leaves out`
						: `# ${configPath} does not exist: every setting is its default (snapdeck config schema lists them)`,
				);
				print(JSON.stringify(shown.effective, null, 2));
			}
		}
		if (what === 'validate') {
			// No file is nothing checked: saying "valid" would hide a configuration written to the wrong place.
			if (!(await exists(configPath)))
				throw new SnapdeckError(
					'not-found',
					`there is no configuration at ${configPath}: nothing to check (snapdeck runs on its defaults)`,
					"write it there (snapdeck config schema gives its fields), or name a file: 'snapdeck config validate FILE'",
				);
			print(flags.json ? JSON.stringify({file: configPath, valid: true}) : `${configPath}: valid`);
		}
		return 0;
	},
});

const exists = (file: string) =>
	lstat(file).then(
		() => true,
		() => false,
	);

type Config = Awaited<ReturnType<Awaited<ReturnType<typeof settingsModule>>['loadConfig']>>['config'];

/**
 * What this snapdeck would use, each setting with where it comes from (the file, an environment
 * variable, or the default), notifiers' URLs and the user and password in a target's or a connection's URL
 * masked: they may carry credentials and tokens.
 */
async function effectiveConfig(config: Config, file: string, flags: CliFlags) {
	const present = await exists(file);
	const from = (env: string, key: keyof Config) =>
		process.env[env] !== undefined ? env : config[key] !== undefined ? 'file' : 'default';
	return {
		file,
		exists: present,
		effective: {
			connection: {
				value: await connectionUris(flags.connect),
				from: flags.connect ? '--connect' : from('SNAPDECK_CONNECT', 'defaultConnection'),
			},
			repository: {
				value: await repositoryDir(flags.repo),
				from: flags.repo ? '--repo' : from('SNAPDECK_REPO', 'repository'),
				note: "a VM's policy may name its own",
			},
			connections: Object.fromEntries(
				Object.entries(config.connections ?? {}).map(([name, uri]) => [name, maskCredentials(uri)]),
			),
			repositories: config.repositories ?? {},
			// A REST server's user and password may be in its URL (restic's own way to give them).
			offsite: Object.fromEntries(
				Object.entries(config.offsite ?? {}).map(([name, target]) => [
					name,
					{...target, repository: maskCredentials(target.repository)},
				]),
			),
			// The first policy that selects a VM applies; the default one selects every VM the others leave.
			policies: [...(config.policies ?? []), DEFAULT_POLICY],
			notify: (config.notify ?? []).map(maskedNotifier),
			keymap: config.keymap ?? {},
		},
	};
}
