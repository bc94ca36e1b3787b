import {SnapdeckError} from '../core/errors.js';
import {NAME_RULE, nameProblem} from '../core/names.js';
import {argName, flagOf, type ArgSpec, type Command} from './command.js';
import {GLOBAL_FLAGS, type Flag, type ParsedFlags} from './flags.js';
import {didYouMean} from './suggest.js';
import {synopsisOf} from './synopsis.js';

/** Where a usage error points: the command's synopsis, and its help. */
const usageHint = (command: Command, first?: string) =>
	`${first ? `${first}\n  ` : ''}usage: ${synopsisOf(command)}\n  'snapdeck help ${command.name}' tells more`;

const plural = (count: number) => `${count} argument${count === 1 ? '' : 's'}`;

/** Whether `given` has as many positionals as the spec takes; else the error that says what is missing or extra. */
function checkCount(command: Command, given: readonly string[]): void {
	const specs = command.args;
	const least = specs.filter(spec => !spec.optional).length;
	const most = specs.some(spec => spec.variadic) ? Infinity : specs.length;
	if (given.length >= least && given.length <= most) return;
	const names = specs.map(argName).join(' ');
	const message =
		specs.length === 0
			? `'snapdeck ${command.name}' takes no arguments, got ${plural(given.length)}: ${given.map(word => JSON.stringify(word)).join(' ')}`
			: given.length < least
				? `'snapdeck ${command.name}' needs ${names}: ${specs
						.slice(given.length)
						.filter(spec => !spec.optional)
						.map(argName)
						.join(' ')} is missing`
				: `'snapdeck ${command.name}' takes ${names}, got ${plural(given.length)}: ${given
						.slice(most)
						.map(word => JSON.stringify(word))
						.join(' ')} ${given.length - most === 1 ? 'is one' : 'are'} too many`;
	// 'receipts verfy FILE': a subcommand mistyped reads as an argument too many.
	const near =
		given.length > 0
			? didYouMean(
					given[0]!,
					(command.subcommands ?? []).map(sub => sub.name.split(' ')[1]!),
					word => `'snapdeck ${command.name} ${word}'`,
				)
			: '';
	throw new SnapdeckError('usage', `${message}${near ? `; ${near}` : ''}`, usageHint(command));
}

/** Refuses a value that is not of its argument's kind: a name outside the name rules, a word not in the list, an empty path. */
function checkKind(command: Command, spec: ArgSpec, value: string): void {
	const label = argName(spec).replace(/[[\].]/g, '');
	if (spec.kind === 'vm' || spec.kind === 'snapshot' || spec.kind === 'new-snapshot') {
		const what = spec.kind === 'vm' ? 'VM' : 'snapshot';
		const problem = nameProblem(value);
		if (problem)
			throw new SnapdeckError(
				'usage',
				`invalid ${what} name ${JSON.stringify(value)}: ${problem}`,
				usageHint(command, `${what} names are ${NAME_RULE}`),
				'bad-name',
			);
	} else if (spec.kind === 'word') {
		const words = spec.words ?? [];
		if (!words.includes(value)) {
			const near = didYouMean(value, words);
			throw new SnapdeckError(
				'usage',
				`'snapdeck ${command.name}' takes ${words.map(word => `'${word}'`).join(', ')} here, got ${JSON.stringify(value)}${near ? `: ${near}` : ''}`,
				usageHint(command),
			);
		}
	} else if (value === '') {
		throw new SnapdeckError('usage', `${label} is empty: ${spec.help}`, usageHint(command));
	}
}

/**
 * The positionals after the command's name, checked against its spec (how many, and each of its
 * kind) and named by the spec's keys: what `run` reads. Done before any session opens, so a wrong
 * command line is told at once and changes nothing.
 */
export function typedArgs(
	command: Command,
	given: readonly string[],
): Record<string, string | readonly string[] | undefined> {
	checkCount(command, given);
	const values: Record<string, string | readonly string[] | undefined> = {};
	command.args.forEach((spec, index) => {
		const taken = spec.variadic ? given.slice(index) : given.slice(index, index + 1);
		for (const value of taken) checkKind(command, spec, value);
		values[spec.key] = spec.variadic ? taken : taken[0];
	});
	return values;
}

/** The values of the flags given, checked against their specs (a whole number in its range, one of its words), before the command runs. */
export function checkFlagValues(command: Command, flags: ParsedFlags): void {
	for (const name of [...GLOBAL_FLAGS, ...command.flags]) {
		const flag: Flag = flagOf(command, name);
		const value = flags[name];
		if (typeof value !== 'string') continue;
		const [least, most] = flag.whole ?? [0, 0];
		const wholeOk = !flag.whole || (/^\d+$/.test(value) && Number(value) >= least && Number(value) <= most);
		const wordOk = !flag.words || flag.words.includes(value);
		if (wholeOk && wordOk) continue;
		const wanted = flag.words
			? flag.words.join(' or ')
			: `a whole number ${most === Number.MAX_SAFE_INTEGER ? `of ${least} or more` : `from ${least} to ${most}`}`;
		throw new SnapdeckError(
			'usage',
			`--${name} ${flag.value} takes ${wanted}, got ${JSON.stringify(value)}`,
			usageHint(command),
		);
	}
}
