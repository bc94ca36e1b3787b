import {SnapdeckError} from '../core/errors.js';
import {GLOBAL_FLAGS} from './flags.js';
import {everyFlag} from './command-flags.js';
import {COMMANDS} from './commands/command-registry.js';
import {argName} from './command.js';
import {didYouMean} from './suggest.js';

/** The command being typed: the first word that is not a flag, where it names one, or its subcommand the next word names. */
const commandOf = (argv: readonly string[]) => {
	const [name, next] = argv.filter(word => !word.startsWith('-'));
	const command = COMMANDS.find(candidate => candidate.name === name);
	return command?.subcommands?.find(sub => sub.name === `${name} ${next}`) ?? command;
};

/** The flags the command being typed takes, else every flag. */
function flagsOf(argv: readonly string[]): readonly string[] {
	const command = commandOf(argv);
	return command ? [...GLOBAL_FLAGS, ...command.flags] : Object.keys(everyFlag());
}

/**
 * Where to look next, for this command: its own help, and what a word that begins with '-' can be
 * there. An argument that takes any file or path is accepted after '--' (which ends the options);
 * a VM or snapshot name never begins with '-' (core/names.ts), so there it can only be an option.
 */
function unknownOptionHint(argv: readonly string[]): string {
	const command = commandOf(argv);
	if (!command) return "'snapdeck help COMMAND' lists a command's options";
	const help = `'snapdeck help ${command.name}' lists its options`;
	const free = command.args.findIndex(spec => spec.kind === 'path' || spec.kind === 'guest-path');
	if (free >= 0) {
		const name = argName(command.args[free]!).replace(/[[\]]/g, '');
		const before = command.args.slice(0, free).map(spec => `${argName(spec)} `);
		return `${help}; a ${name} that begins with '-' is accepted after '--', which ends the options (snapdeck ${command.name} ${before.join('')}-- -${name})`;
	}
	const names = command.args.some(spec => ['vm', 'snapshot', 'new-snapshot'].includes(spec.kind));
	return names ? `${help}; no VM or snapshot name begins with '-' (names begin with a letter or a digit)` : help;
}

/**
 * A command line node's parseArgs refused, told in snapdeck's words: the option that is wrong,
 * the nearest ones the command takes, and what a word that begins with '-' can be there.
 */
export function usageErrorOf(error: unknown, argv: readonly string[]): SnapdeckError {
	const {code, message} = error as {code?: string; message?: string};
	const quoted = /'(-[^' ]*)/.exec(message ?? '')?.[1] ?? '';
	const flags = flagsOf(argv);
	if (code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION') {
		// A group of short ones (-rf) is told whole, as typed: it is most often a name meant as an argument.
		const word = quoted.startsWith('--')
			? quoted
			: (argv.find(candidate => /^-[^-]/.test(candidate) && candidate.includes(quoted.slice(1))) ?? quoted);
		const typed = word.replace(/^-+/, '');
		const near = typed.length > 1 ? didYouMean(typed, flags, name => `--${name}`) : '';
		return new SnapdeckError('usage', `unknown option '${word}'${near ? `: ${near}` : ''}`, unknownOptionHint(argv));
	}
	if (code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE') {
		const name = /--([a-z-]+)/.exec(message ?? '')?.[1];
		const flag = name === undefined ? undefined : everyFlag()[name];
		if (flag && flag.type === 'boolean')
			return new SnapdeckError('usage', `--${name} takes no value`, `write --${name} alone`);
		const value = flag?.value ?? 'VALUE';
		return new SnapdeckError(
			'usage',
			`--${name} needs a value (--${name} ${value})`,
			`a value that begins with '-' is written --${name}=-VALUE`,
		);
	}
	return new SnapdeckError('usage', (message ?? String(error)).split('\n')[0]!, "see 'snapdeck --help'");
}
