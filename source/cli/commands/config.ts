import {readFile} from 'node:fs/promises';
import {errorMessage, SnapdeckError} from '../../core/errors.js';
import {maskedNotifier} from '../../core/notify.js';
import {print, printJson, settingsModule} from '../support.js';
import {defineCommand} from '../command.js';

export default defineCommand({
	name: 'config',
	usage: `  snapdeck config path | show | validate [FILE] | schema
                                            the configuration file: where, as read (defaults
                                            filled in), checked, its JSON schema`,
	flags: [],
	async run({args, flags}) {
		const [what, file] = args;
		const {loadConfig, validateConfig, configJsonSchema} = await settingsModule();
		if (what === 'schema' && args.length === 1) return printJson(configJsonSchema()), 0;
		if (what === 'validate' && file !== undefined && args.length === 2) {
			let json: unknown;
			try {
				json = JSON.parse(await readFile(file, 'utf8'));
			} catch (error) {
				throw new SnapdeckError('input', `${file} cannot be read as JSON: ${errorMessage(error)}`);
			}
			validateConfig(json, file);
			print(flags.json ? JSON.stringify({file, valid: true}) : `${file}: valid`);
			return 0;
		}
		if (!['path', 'show', 'validate'].includes(what ?? '') || args.length !== 1) {
			throw new SnapdeckError('usage', "'snapdeck config' takes path, show, validate [FILE] or schema", "see 'snapdeck --help'");
		}
		const {config, path: configPath} = loadConfig();
		if (what === 'path') print(flags.json ? JSON.stringify({path: configPath}) : configPath);
		// The notifiers' URLs may carry credentials and tokens: shown masked, as everywhere.
		if (what === 'show') printJson(config.notify ? {...config, notify: config.notify.map(maskedNotifier)} : config);
		if (what === 'validate') print(flags.json ? JSON.stringify({file: configPath, valid: true}) : `${configPath}: valid`);
		return 0;
	},
});
