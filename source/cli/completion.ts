import {NAME_PATTERN} from '../core/names.js';
import type {ArgSpec, Command} from './command.js';
import {flagTableOf} from './command-flags.js';
import {GLOBAL_FLAGS} from './flags.js';

/** A bash word list, single-quoted (every word here is ours: commands, flags, words of a spec). */
const words = (list: readonly string[]) => `'${list.join(' ')}'`;

/** Flags whose value is a file or a folder: bash completes paths after them. */
const PATH_VALUES = new Set(['DIR', 'FILE', 'PATH', 'PUBLIC']);

const offerWords = (list: readonly string[]) => `COMPREPLY+=($(compgen -W ${words(list)} -- "$cur"))`;
const offerPaths = 'compopt -o filenames 2>/dev/null; COMPREPLY+=($(compgen -f -- "$cur"))';

/** What completion offers at an argument of this kind (`args` holds the positionals before it). */
function offer(spec: ArgSpec, specs: readonly ArgSpec[]): string | undefined {
	switch (spec.kind) {
		case 'vm':
			return '_snapdeck_names list --json "${connect[@]}"';
		case 'snapshot': {
			// The snapshots of the VM named before it.
			const vm = specs.findIndex(other => other.kind === 'vm');
			return vm < 0 ? undefined : `_snapdeck_names tree --json "\${connect[@]}" -- "\${args[${vm}]}"`;
		}
		case 'word':
			return offerWords(spec.words ?? []);
		case 'path':
			return offerPaths;
		default:
			return undefined;
	}
}

/** `case` branches, one per thing offered, each with the `COMMAND:POSITION` patterns it is offered at. */
function branches(entries: ReadonlyArray<readonly [string, string]>): string {
	const byOffer = new Map<string, string[]>();
	for (const [pattern, action] of entries) byOffer.set(action, [...(byOffer.get(action) ?? []), pattern]);
	return [...byOffer].map(([action, patterns]) => `\t${patterns.join('|')}) ${action} ;;`).join('\n');
}

/** The positions of every command's arguments and what each offers: fixed positions first, a variadic's rest after. */
function positions(commands: readonly Command[], help: string): {fixed: string; rest: string} {
	// 'snapdeck help COMMAND': the commands.
	const fixed: Array<[string, string]> = [["'help:0'", help]];
	const rest: Array<[string, string]> = [];
	for (const command of commands) {
		command.args.forEach((spec, index) => {
			const action = offer(spec, command.args);
			if (action === undefined) return;
			if (spec.variadic) rest.push([`'${command.name}:'*`, action]);
			else fixed.push([`'${command.name}:${index}'`, action]);
		});
	}
	return {fixed: branches(fixed), rest: branches(rest)};
}

/**
 * The bash completion script, made from the command specs: command names, each command's own
 * options and the global ones, and at each argument what its kind takes: the connection's VM names
 * where it is a VM, that VM's snapshots where it is a snapshot, the spec's words, paths (also after
 * an option that takes one). Names come from `snapdeck list --json` and `snapdeck tree --json` on
 * the connection the line names: a VM folder, a libvirt domain, not ours. They never pass through
 * compgen -W (which expands $(...) and `...` in its word list), and only names snapdeck accepts
 * (core/names.ts) are offered.
 */
export function bashCompletion(commands: readonly Command[]): string {
	const all = commands.flatMap(command => [command, ...(command.subcommands ?? [])]);
	const subcommands = all.filter(command => command.name.includes(' '));
	const flags = flagTableOf(commands);
	const valued = Object.keys(flags).filter(name => flags[name]!.type === 'string');
	const paths = valued.filter(name => PATH_VALUES.has(flags[name]!.value ?? ''));
	const {fixed, rest} = positions(all, offerWords(commands.map(command => command.name)));
	const subWords = new Map<string, string[]>();
	for (const sub of subcommands) {
		const [parent, word] = sub.name.split(' ') as [string, string];
		subWords.set(parent, [...(subWords.get(parent) ?? []), word]);
	}
	return `# bash completion for snapdeck, made by 'snapdeck completion bash'.
# Load it now:   source <(snapdeck completion bash)
# For good:      snapdeck completion bash > /etc/bash_completion.d/snapdeck
_snapdeck_names() {
	local word
	while IFS= read -r word; do
		[[ $word =~ ${NAME_PATTERN.source} && $word == "$cur"* ]] && COMPREPLY+=("$word")
	done < <(snapdeck "$@" 2>/dev/null | grep -o '"name":"[^"]*"' | cut -d'"' -f4)
}
_snapdeck() {
	local cur=\${COMP_WORDS[COMP_CWORD]} prev=\${COMP_WORDS[COMP_CWORD-1]} command="" i word rest="" connect=() args=()
	COMPREPLY=()
	for ((i = 1; i < COMP_CWORD; i++)); do
		word=\${COMP_WORDS[i]}
		if [ -z "$rest" ]; then
			case $word in
			--) rest=1; continue ;;
			--connect) connect+=(--connect "\${COMP_WORDS[i+1]}"); i=$((i + 1)); continue ;;
			${valued
				.filter(name => name !== 'connect')
				.map(name => `--${name}`)
				.join('|')}) i=$((i + 1)); continue ;;
			-*) continue ;;
			esac
		fi
		if [ -z "$command" ]; then command=$word
		elif [ \${#args[@]} -eq 0 ] && case "$command $word" in ${subcommands.map(command => `'${command.name}'`).join('|') || "''"}) true ;; *) false ;; esac; then command="$command $word"
		else args+=("$word"); fi
	done
	if [ -z "$rest" ]; then
		case $prev in
		${paths.map(name => `--${name}`).join('|')}) ${offerPaths}; return ;;
		${valued
			.filter(name => !paths.includes(name))
			.map(name => `--${name}`)
			.join('|')}) return ;;
		esac
	fi
	if [ -z "$command" ]; then
		${offerWords([...commands.map(command => command.name), 'help'])}
		return
	fi
	if [[ -z $rest && $cur == -* ]]; then
		case $command in
${all.map(command => `		'${command.name}') ${offerWords([...GLOBAL_FLAGS, ...command.flags].map(flag => `--${flag}`))} ;;`).join('\n')}
		esac
		return
	fi
	case "$command:\${#args[@]}" in
${fixed}
${rest}
	esac
	case "$command:\${#args[@]}" in
${branches([...subWords].map(([parent, list]) => [`'${parent}:0'`, offerWords(list)]))}
	esac
}
complete -F _snapdeck snapdeck
`;
}
