import {defineCommand} from '../command.js';
import {bashCompletion} from '../completion.js';
import {print} from '../support.js';

export default defineCommand({
	name: 'completion',
	order: 250,
	summary: 'bash completion: source <(snapdeck completion bash)',
	description: 'It completes commands, options, VM and snapshot names, words and paths.',
	args: [{key: 'shell', kind: 'word', words: ['bash'], help: 'the shell: bash, the only one it writes for so far'}],
	examples: [
		{line: 'snapdeck completion bash > /etc/bash_completion.d/snapdeck', does: 'completion for every bash session'},
	],
	flags: [],
	async run() {
		const {COMMANDS} = await import('./command-registry.js');
		print(bashCompletion(COMMANDS).trimEnd());
		return 0;
	},
});
