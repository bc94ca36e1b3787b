import {SnapdeckError} from '../core/errors.js';
import {FLAGS, GLOBAL_FLAGS, type FlagName} from './flags.js';
import {COMMANDS} from './commands/command-registry.js';
import {didYouMean} from './suggest.js';

/** The flags the command being typed takes (the first word that is not a flag), else every flag. */
function flagsOf(argv: readonly string[]): readonly FlagName[] {
	const name = argv.find(word => !word.startsWith('-'));
	const command = COMMANDS.find(candidate => candidate.name === name);
	return command ? [...GLOBAL_FLAGS, ...command.flags] : (Object.keys(FLAGS) as FlagName[]);
}

/**
 * A command line node's parseArgs refused, told in snapdeck's words: the option that is wrong,
 * the nearest ones the command takes, and how to pass a name that begins with '-'.
 */
export function usageErrorOf(error: unknown, argv: readonly string[]): SnapdeckError {
	const {code, message} = error as {code?: string; message?: string};
	const quoted = /'(-[^' ]*)/.exec(message ?? '')?.[1] ?? '';
	const flags = flagsOf(argv);
	if (code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION') {
		// A group of short ones (-rf) is told whole, as typed: it is most often a name meant as an argument.
		const word = quoted.startsWith('--') ? quoted : argv.find(candidate => /^-[^-]/.test(candidate) && candidate.includes(quoted.slice(1))) ?? quoted;
		const typed = word.replace(/^-+/, '');
		const near = typed.length > 1 ? didYouMean(typed, flags, name => `--${name}`) : '';
		return new SnapdeckError('usage', `unknown option '${word}'${near ? `: ${near}` : ''}`,
			`a name that begins with '-' goes after '--' (snapdeck tree -- -vm); 'snapdeck help COMMAND' lists a command's options`);
	}
	if (code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE') {
		const name = /--([a-z-]+)/.exec(message ?? '')?.[1] as FlagName | undefined;
		const flag = name === undefined ? undefined : FLAGS[name];
		if (flag && flag.type === 'boolean') return new SnapdeckError('usage', `--${name} takes no value`, `write --${name} alone`);
		const value = flag && 'value' in flag ? flag.value : 'VALUE';
		return new SnapdeckError('usage', `--${name} needs a value (--${name} ${value})`, `a value that begins with '-' is written --${name}=-VALUE`);
	}
	return new SnapdeckError('usage', (message ?? String(error)).split('\n')[0]!, "see 'snapdeck --help'");
}
