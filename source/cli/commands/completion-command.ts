import {SnapdeckError} from '../../core/errors.js';
import {defineCommand} from '../command.js';
import {bashCompletion} from '../completion.js';
import {print} from '../support.js';

export default defineCommand({
	name: 'completion',
	usage: `  snapdeck completion bash                  the bash completion script: commands, options, VM
                                            names (source <(snapdeck completion bash))`,
	flags: [],
	words: ['bash'],
	async run({args}) {
		if (args.length !== 1 || args[0] !== 'bash') throw new SnapdeckError('usage', "'snapdeck completion' takes bash (the only shell it writes for so far)");
		const {COMMANDS} = await import('./command-registry.js');
		print(bashCompletion(COMMANDS).trimEnd());
		return 0;
	},
});
